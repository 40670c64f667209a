# Copyright (c) mmscrl contributors. All rights reserved.
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmscrl.orl.correspondence import (correspondence_reference, num_pairs,
                                       run_correspondence, topk_pairs)
from mmscrl.orl.features import crop_rois, filter_image_boxes, roi_embeddings
from mmscrl.orl.jobs import StaleChunkError


@pytest.mark.parametrize('b, ratio, expected', [
    (1, 0.1, 1), (9, 0.1, 1), (10, 0.1, 1), (25, 0.1, 2), (30, 0.1, 3),
    (70, 0.1, 7), (100, 0.1, 10), (40, 0.25, 10)])
def test_num_pairs(b, ratio, expected):
    assert num_pairs(b, ratio) == expected


def test_topk_pairs_decodes_flat_index():
    torch.manual_seed(0)
    fq = torch.nn.functional.normalize(torch.randn(20, 8), dim=1)
    fk = torch.nn.functional.normalize(torch.randn(7, 8), dim=1)
    qi, ki = topk_pairs(fq, fk, 0.1)
    assert len(qi) == 2
    s = fq @ fk.T
    best = torch.topk(s.flatten(), 2).values
    torch.testing.assert_close(s[qi, ki], best)
    assert s[qi[0], ki[0]] == s.max()


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory, orl_stage2_inputs):
    s = orl_stage2_inputs(tmp_path_factory.mktemp('orl_corr'), n=6,
                          size=(80, 112))
    root, names = s.root, s.names
    from mmscrl.orl.features import build_stage1_model
    model = build_stage1_model(s.cfg, s.ckpts[0])
    rng = np.random.default_rng(0)
    raw = []
    for i in range(len(names)):
        n = int(rng.integers(5, 30))
        x = rng.integers(0, 90, n)
        y = rng.integers(0, 60, n)
        w = np.minimum(rng.integers(8, 112, n), 112 - x)
        h = np.minimum(rng.integers(8, 80, n), 80 - y)
        raw.append(np.stack([x, y, w, h], 1).astype(np.float32))
    knn = np.stack([rng.permutation([j for j in range(6) if j != i])[:3]
                    for i in range(6)])
    return root, names, model, raw, knn


FILTER = dict(min_size=12, max_ratio=3, max_iou=0.5, topN=12)


def _reference(root, names, model, raw, knn, ratio=0.25, patch=32):
    from PIL import Image

    def image_rois(i):
        img = Image.open(osp.join(root, 'images', names[i])).convert('RGB')
        boxes = filter_image_boxes(raw[i], img.size, **FILTER)
        return boxes, crop_rois(img, boxes, patch)

    return correspondence_reference(
        names, knn, image_rois, lambda c: roi_embeddings(model.backbone, c),
        ratio)


def test_cached_equals_recompute_reference(tiny_set, tmp_path):
    root, names, model, raw, knn = tiny_set
    ref, ref_forwards = _reference(root, names, model, raw, knn)
    corr, counters = run_correspondence(
        model, str(root / 'images'), names, raw, knn,
        str(tmp_path / 'corr.npz'), str(tmp_path / 'work'),
        filter_cfg=FILTER, ratio=0.25, patch_size=32, num_workers=0,
        emb_chunk=4, pair_chunk=4, emb_dtype='float32',
        progress_interval=1000)
    assert corr.file_names == ref.file_names
    for a, b in zip(corr.boxes, ref.boxes):
        np.testing.assert_array_equal(a, b)
    for i in range(len(names)):
        for a, b in zip(corr.pairs[i], ref.pairs[i]):
            np.testing.assert_array_equal(a, b)
            assert len(a) == num_pairs(len(corr.boxes[i]), 0.25)
    sizes = np.array([len(b) for b in corr.boxes])
    assert counters['roi_forwards'] == sizes.sum()
    assert ref_forwards == sizes.sum() + sizes[knn].sum()
    assert corr.info.pop('fingerprint')['emb_dtype'] == 'float32'
    assert corr.info == dict(FILTER, k=3, pair_ratio=0.25)
    # the pairs are real boxes of the query / the kNN image
    for i in range(len(names)):
        for slot, j in enumerate(knn[i]):
            p = corr.pairs[i][slot]
            assert all((corr.boxes[i] == q).all(1).any() for q in p[:, :4])
            assert all((corr.boxes[j] == k).all(1).any() for k in p[:, 4:])


def test_resume_reuses_embeddings(tiny_set, tmp_path):
    root, names, model, raw, knn = tiny_set
    kw = dict(filter_cfg=FILTER, ratio=0.25, patch_size=32, num_workers=0,
              emb_chunk=4, pair_chunk=4, progress_interval=1000)
    work = str(tmp_path / 'work')
    first, c1 = run_correspondence(model, str(root / 'images'), names, raw,
                                   knn, str(tmp_path / 'a.npz'), work, **kw)
    # simulate an interruption in pass 2 and a stale temporary file
    pair_files = sorted(f for f in os.listdir(work) if f.startswith('pairs'))
    os.remove(osp.join(work, pair_files[-1]))
    open(osp.join(work, '.pairs_tmp.tmp'), 'w').close()
    second, c2 = run_correspondence(model, str(root / 'images'), names, raw,
                                    knn, str(tmp_path / 'b.json'), work, **kw)
    assert c1['roi_forwards'] > 0 and c2['roi_forwards'] == 0
    for ra, rb in zip(first.pairs, second.pairs):
        for a, b in zip(ra, rb):
            np.testing.assert_array_equal(a, b)
    from mmscrl.orl import load_correspondence
    from_json = load_correspondence(str(tmp_path / 'b.json'))
    np.testing.assert_array_equal(from_json.pairs[5][2], first.pairs[5][2])
    # a different kNN must not silently reuse the old pair chunks
    with pytest.raises(StaleChunkError, match=r'knn \(chunk'):
        run_correspondence(model, str(root / 'images'), names, raw,
                           knn[:, ::-1].copy(), str(tmp_path / 'c.npz'),
                           work, **kw)


def test_float16_cache_halves_disk_keeps_pairs(tiny_set, tmp_path):
    """The default float16 embedding cache: half the bytes of float32, the
    same boxes, and (on these images) the same pairs."""
    root, names, model, raw, knn = tiny_set
    kw = dict(filter_cfg=FILTER, ratio=0.25, patch_size=32, num_workers=0,
              emb_chunk=3, pair_chunk=4, progress_interval=1000)
    runs = {}
    for dtype in ('float32', 'float16'):
        work = tmp_path / dtype
        corr, _ = run_correspondence(model, str(root / 'images'), names,
                                     raw, knn, str(tmp_path / f'{dtype}.npz'),
                                     str(work), emb_dtype=dtype, **kw)
        embs = [np.load(p) for p in sorted(work.glob('emb_*.npy'))]
        assert {e.dtype for e in embs} == {np.dtype(dtype)}
        runs[dtype] = corr, sum(e.nbytes for e in embs)
    (c32, b32), (c16, b16) = runs['float32'], runs['float16']
    assert b16 * 2 == b32
    assert c16.info['fingerprint']['emb_dtype'] == 'float16'
    for i in range(len(names)):
        np.testing.assert_array_equal(c16.boxes[i], c32.boxes[i])
        for a, b in zip(c16.pairs[i], c32.pairs[i]):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match='emb_dtype must be one of'):
        run_correspondence(model, str(root / 'images'), names, raw, knn,
                           str(tmp_path / 'x.npz'), str(tmp_path / 'x'),
                           emb_dtype='bfloat16', **kw)
