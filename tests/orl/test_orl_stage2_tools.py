# Copyright (c) mmscrl contributors. All rights reserved.
"""The three stage-2 tools end to end on generated images (CPU, ResNet-18
stage-1 checkpoint), plus selective-search determinism."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmscrl.orl import load_correspondence, load_knn, load_proposals
from mmscrl.orl.box_filter import pairwise_iou_xywh
from mmscrl.orl.selective_search import load_rgb, selective_search


@pytest.fixture(scope='module')
def stage2(tmp_path_factory, orl_stage2_inputs):
    s = orl_stage2_inputs(tmp_path_factory.mktemp('orl_stage2'), n=8,
                          size=(120, 160))
    return s.root, s.data, s.names, s.cfg, s.ckpts[0]


def test_selective_search_deterministic(stage2):
    _, data, names, _, _ = stage2
    img = load_rgb(osp.join(data, names[0]))
    a = selective_search(img, seed=123)
    selective_search(img, seed=None)  # disturb the C RNG in between
    b = selective_search(img, seed=123)
    assert a.shape[1] == 4 and len(a) > 1
    np.testing.assert_array_equal(a, b)
    c = selective_search(img, seed=7)  # another seed: same set, other order
    assert sorted(map(tuple, a)) == sorted(map(tuple, c))


def test_stage2_tools_end_to_end(stage2, load_tool, capsys):
    root, data, names, cfg, ckpt = stage2
    meta = root / 'meta'
    # 2b: selective search, 2 worker processes, then a 1-process rerun in a
    # fresh work dir gives identical proposals (per-image seeding)
    ss = load_tool('orl/selective_search.py')
    ss.main(['--data-root', data, '--out', str(meta / 'ss.npz'),
             '--workers', '2', '--chunk-size', '3'])
    ss.main(['--data-root', data, '--out', str(meta / 'ss1.json'),
             '--work-dir', str(meta / 'ss1_parts'), '--chunk-size', '5'])
    props = load_proposals(str(meta / 'ss.npz'))
    props1 = load_proposals(str(meta / 'ss1.json'))
    assert props.file_names == names and len(props1.boxes) == len(names)
    for a, b in zip(props.boxes, props1.boxes):
        np.testing.assert_array_equal(a, b)
    assert '[selective search] 8 images' in capsys.readouterr().out

    # 2a: kNN from the stage-1 checkpoint, small chunks, bank saved
    knn_tool = load_tool('orl/extract_knn.py')
    args = [cfg, ckpt, '--data-root', data, '--out', str(meta / 'knn.npz'),
            '--bank-out', str(meta / 'bank.npy'), '--k', '3', '--resize',
            '72', '--crop', '64', '--batch-size', '3', '--feat-chunk', '3',
            '--knn-chunk', '5', '--num-workers', '0']
    knn_tool.main(args)
    knn = load_knn(str(meta / 'knn.npz'))
    bank = np.load(meta / 'bank.npy')
    assert knn.file_names == names and knn.knn.shape == (8, 3)
    assert bank.shape == (8, 64)
    np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1, atol=1e-5)
    # the bank equals a direct forward of the checkpoint's model
    from mmscrl.orl.features import (ImageListDataset, build_stage1_model,
                                     image_features)
    model = build_stage1_model(cfg, ckpt)
    ds = ImageListDataset(data, names, resize=72, crop=64)
    direct = image_features(model, torch.stack([ds[i][1] for i in range(8)]))
    np.testing.assert_allclose(bank, direct.numpy(), atol=1e-5)
    sim = bank @ bank.T
    np.fill_diagonal(sim, -np.inf)
    np.testing.assert_array_equal(knn.knn, np.argsort(-sim, 1)[:, :3])
    # resumable: a rerun finds all chunks and recomputes nothing
    capsys.readouterr()
    knn_tool.main(args)
    assert '[kNN features] 0 to compute, 8 done earlier' in \
        capsys.readouterr().out

    # 2c: correspondence; npz, then JSON from the same work dir (resumed)
    corr_tool = load_tool('orl/generate_correspondence.py')
    cargs = [cfg, ckpt, '--data-root', data, '--knn', str(meta / 'knn.npz'),
             '--proposals', str(meta / 'ss.npz'), '--min-size', '16',
             '--topn', '20', '--patch-size', '32', '--pair-ratio', '0.2',
             '--emb-chunk', '3', '--pair-chunk', '3', '--num-workers', '0',
             '--work-dir', str(meta / 'corr_parts')]
    corr_tool.main(cargs + ['--out', str(meta / 'corr.npz')])
    corr_tool.main(cargs + ['--out', str(meta / 'corr.json')])
    corr = load_correspondence(str(meta / 'corr.npz'))
    corr_json = load_correspondence(str(meta / 'corr.json'))
    assert corr.file_names == names
    np.testing.assert_array_equal(corr.knn, knn.knn)
    fp = corr.info.pop('fingerprint')
    assert corr.info == dict(min_size=16, max_ratio=3, max_iou=0.5, topN=20,
                             k=3, pair_ratio=0.2)
    assert fp['filter_topN'] == 20 and fp['patch_size'] == 32
    for i in range(8):
        b = corr.boxes[i]
        np.testing.assert_array_equal(b, corr_json.boxes[i])
        assert 1 <= len(b) <= 20 and np.all(b[:, 2:] >= 16)
        iou = pairwise_iou_xywh(b, b)
        np.fill_diagonal(iou, 0)
        assert np.all(iou <= 0.5)
        for slot, j in enumerate(corr.knn[i]):
            p = corr.pairs[i][slot]
            np.testing.assert_array_equal(p, corr_json.pairs[i][slot])
            assert len(p) == max(1, int(0.2 * len(b)))
            assert all((b == q).all(1).any() for q in p[:, :4])
            assert all((corr.boxes[j] == k).all(1).any() for k in p[:, 4:])

    # the official-format JSON proposals are accepted as input too
    corr_tool.main([cfg, ckpt, '--data-root', data, '--knn',
                    str(meta / 'knn.npz'), '--proposals',
                    str(meta / 'ss1.json'), '--min-size', '16', '--topn',
                    '20', '--patch-size', '32', '--pair-ratio', '0.2',
                    '--num-workers', '0', '--out', str(meta / 'corr2.npz')])
    corr2 = load_correspondence(str(meta / 'corr2.npz'))
    for i in range(8):
        np.testing.assert_array_equal(corr2.pairs[i][0], corr.pairs[i][0])

    # mismatched image order is refused with a clear message
    from mmscrl.orl.io import ORLProposals, save_proposals
    save_proposals(ORLProposals(props.boxes, names[::-1]),
                   str(meta / 'ss_rev.npz'))
    with pytest.raises(ValueError, match='different image orders'):
        corr_tool.main([cfg, ckpt, '--data-root', data, '--knn',
                        str(meta / 'knn.npz'), '--proposals',
                        str(meta / 'ss_rev.npz'), '--out',
                        str(meta / 'x.npz')])


def test_dist_extract_knn_two_processes(stage2, load_tool, tmp_path,
                                        repo_root):
    """torchrun with 2 CPU processes (gloo) gives the single-process kNN."""
    root, data, names, cfg, ckpt = stage2
    common = ['--data-root', data, '--k', '3', '--resize', '72', '--crop',
              '64', '--feat-chunk', '2', '--knn-chunk', '3',
              '--num-workers', '0']
    env = dict(os.environ, PYTHON=sys.executable, PORT='29617',
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(repo_root, 'tools', 'orl', 'dist_extract_knn.sh'),
         cfg, ckpt, '2'] +
        common + ['--out', str(tmp_path / 'knn2.json')],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    load_tool('orl/extract_knn.py').main(
        [cfg, ckpt] + common + ['--out', str(tmp_path / 'knn1.npz')])
    a = load_knn(str(tmp_path / 'knn2.json'))
    b = load_knn(str(tmp_path / 'knn1.npz'))
    assert a.file_names == b.file_names == names
    np.testing.assert_array_equal(a.knn, b.knn)
