# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage-2 tools never reuse chunks made with other settings.

Rerunning a tool into the same ``--out`` (hence the same work dir) with
another mode, seed, image list, checkpoint, resize, filter setting or patch
size must refuse and name the setting(s) (``StaleChunkError``, a
``ValueError``), or recompute with ``--overwrite-stale`` and then equal a
fresh run.
"""
import numpy as np
import pytest

from mmscrl.orl import load_correspondence, load_knn, load_proposals


@pytest.fixture(scope='module')
def setup(tmp_path_factory, orl_stage2_inputs):
    s = orl_stage2_inputs(tmp_path_factory.mktemp('orl_stale'), n=5,
                          size=(72, 96), seeds=(0, 1))
    return (s.root, s.data, s.names, s.cfg) + tuple(s.ckpts)


def test_selective_search_stale_chunks(setup, load_tool, tmp_path, capsys):
    root, data, names, _, _, _ = setup
    ss = load_tool('orl/selective_search.py')
    out = str(tmp_path / 'ss.npz')
    base = ['--data-root', data, '--out', out, '--chunk-size', '2']
    ss.main(base)
    with pytest.raises(ValueError, match=r'seed \(chunk: 0, this run: 1'):
        ss.main(base + ['--seed', '1'])
    with pytest.raises(ValueError, match='mode') as e:
        ss.main(base + ['--mode', 'quality'])
    assert 'ss_000000000_000000002.npz' in str(e.value)
    assert '--overwrite-stale' in str(e.value)
    (tmp_path / 'list.txt').write_text('\n'.join(names[:3]))
    with pytest.raises(ValueError, match='image_list_crc'):
        ss.main(base + ['--img-list', str(tmp_path / 'list.txt')])
    # the refused runs changed nothing; --overwrite-stale recomputes
    ss.main(base + ['--seed', '1', '--overwrite-stale'])
    assert 'stale (seed' in capsys.readouterr().out
    fresh = str(tmp_path / 'fresh.npz')
    ss.main(['--data-root', data, '--out', fresh, '--seed', '1'])
    got, want = load_proposals(out), load_proposals(fresh)
    assert got.info['fingerprint']['seed'] == 1
    for a, b in zip(got.boxes, want.boxes):
        np.testing.assert_array_equal(a, b)


def test_extract_knn_stale_chunks(setup, load_tool, tmp_path):
    root, data, names, cfg, ckpt_a, ckpt_b = setup
    knn_tool = load_tool('orl/extract_knn.py')
    out = str(tmp_path / 'knn.npz')
    opts = ['--data-root', data, '--out', out, '--k', '2', '--resize', '40',
            '--crop', '32', '--feat-chunk', '2', '--num-workers', '0']
    knn_tool.main([cfg, ckpt_a] + opts)
    with pytest.raises(ValueError, match=r'model \(chunk: '):
        knn_tool.main([cfg, ckpt_b] + opts)
    with pytest.raises(ValueError, match='resize'):
        knn_tool.main([cfg, ckpt_a] + opts + ['--resize', '48'])
    knn_tool.main([cfg, ckpt_b] + opts + ['--overwrite-stale'])
    fresh = str(tmp_path / 'fresh.npz')
    knn_tool.main([cfg, ckpt_b] + opts[:2] + ['--out', fresh] + opts[4:])
    got, want = load_knn(out), load_knn(fresh)
    np.testing.assert_array_equal(got.knn, want.knn)
    np.testing.assert_array_equal(got.scores, want.scores)
    assert got.info['fingerprint'] == want.info['fingerprint']


def test_generate_correspondence_stale_chunks(setup, load_tool, tmp_path):
    root, data, names, cfg, ckpt_a, ckpt_b = setup
    load_tool('orl/selective_search.py').main(
        ['--data-root', data, '--out', str(tmp_path / 'ss.npz')])
    load_tool('orl/extract_knn.py').main(
        [cfg, ckpt_a, '--data-root', data, '--out', str(tmp_path / 'k.npz'),
         '--k', '2', '--resize', '40', '--crop', '32', '--num-workers', '0'])
    corr_tool = load_tool('orl/generate_correspondence.py')
    out = str(tmp_path / 'corr.npz')
    opts = ['--data-root', data, '--knn', str(tmp_path / 'k.npz'),
            '--proposals', str(tmp_path / 'ss.npz'), '--min-size', '12',
            '--topn', '8', '--patch-size', '32', '--emb-chunk', '2',
            '--pair-chunk', '2', '--num-workers', '0']
    corr_tool.main([cfg, ckpt_a] + opts + ['--out', out])
    for extra, setting in [(['--topn', '5'], r'filter_topN \(chunk: 8'),
                           (['--patch-size', '24'], 'patch_size'),
                           (['--min-size', '16'], 'filter_min_size'),
                           (['--emb-dtype', 'float32'], 'emb_dtype'),
                           (['--pair-ratio', '0.5'], 'pair_ratio')]:
        with pytest.raises(ValueError, match=setting):
            corr_tool.main([cfg, ckpt_a] + opts + ['--out', out] + extra)
    with pytest.raises(ValueError, match=r'model \(chunk'):
        corr_tool.main([cfg, ckpt_b] + opts + ['--out', out])
    corr_tool.main([cfg, ckpt_a] + opts +
                   ['--out', out, '--topn', '5', '--overwrite-stale'])
    fresh = str(tmp_path / 'fresh.npz')
    corr_tool.main([cfg, ckpt_a] + opts + ['--out', fresh, '--topn', '5'])
    got, want = load_correspondence(out), load_correspondence(fresh)
    assert got.info == want.info and got.info['topN'] == 5
    for i in range(len(names)):
        np.testing.assert_array_equal(got.boxes[i], want.boxes[i])
        for a, b in zip(got.pairs[i], want.pairs[i]):
            np.testing.assert_array_equal(a, b)
