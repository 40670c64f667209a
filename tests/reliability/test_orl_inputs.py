# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stages 2 and 3: cached embeddings are verified, image names stay
inside the data root and non-UTF-8 names are refused by name.

* The RoI-embedding cache (``emb_*.npy`` next to ``emb_*.npz`` in the
  stage-2c work folder) carries a SHA-256 (plus size, shape and dtype)
  recorded in its chunk file: a flipped byte found when scanning is named
  and the chunk recomputed, one found when merging is refused by name, and
  a cache written without a checksum is refused as stale (recomputed with
  ``overwrite_stale`` / ``--overwrite-stale``), like a chunk without a
  fingerprint.
* An image name that is absolute or leaves the data root (``../../x.jpg``)
  is refused at load time, naming the file, the entry and the name, in the
  official JSON, in our npz, in stage 3's ``ORLDataset`` and in the stage-2
  image lists; symlinks inside the user's data root are not resolved.
* A file name that is not valid UTF-8 (byte 0xff) is refused up front by
  every stage-2 tool, naming it (repr of its bytes) and saying to rename it.
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmscrl.orl import load_correspondence, load_knn
from mmscrl.orl.correspondence import _EmbeddingStore, run_correspondence
from mmscrl.orl.io import flatten_ragged
from mmscrl.orl.jobs import ChunkedJob, StaleChunkError, side_path
from mmscrl.utils.fileio import atomic_write


# --------------------------------------------------------------------------
# item 9: integrity of the embedding cache
# --------------------------------------------------------------------------
class _Backbone(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, x):
        return (self.conv(x), )


class _TinyModel(torch.nn.Module):
    """Enough of a stage-1 model for :func:`run_correspondence`."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = _Backbone().eval()


@pytest.fixture(scope='module')
def corr_set(tmp_path_factory, make_orl_images):
    root = tmp_path_factory.mktemp('orl_emb')
    data = str(root / 'images')
    names = make_orl_images(data, n=4, size=(48, 64))
    rng = np.random.default_rng(0)
    raw = []
    for _ in names:
        x, y = rng.integers(0, 30, 12), rng.integers(0, 20, 12)
        w = np.minimum(rng.integers(8, 40, 12), 64 - x)
        h = np.minimum(rng.integers(8, 30, 12), 48 - y)
        raw.append(np.stack([x, y, w, h], 1).astype(np.float32))
    knn = np.array([[1, 2], [2, 3], [3, 0], [0, 1]])
    return data, names, raw, knn


def _run(corr_set, out, work, **kw):
    data, names, raw, knn = corr_set
    return run_correspondence(
        _TinyModel(), data, names, raw, knn, str(out), str(work),
        filter_cfg=dict(min_size=6, max_ratio=4, max_iou=0.7, topN=8),
        ratio=0.5, patch_size=16, num_workers=0, emb_chunk=2, pair_chunk=2,
        progress_interval=1000, **kw)


def _flip(path, pos=-3):
    """Flip every bit of one byte of the array data (not the header)."""
    blob = bytearray(open(path, 'rb').read())
    blob[pos] ^= 0xFF
    with open(path, 'wb') as f:
        f.write(bytes(blob))


def _assert_same(a, b):
    for ra, rb in zip(a.pairs, b.pairs):
        for x, y in zip(ra, rb):
            np.testing.assert_array_equal(x, y)


def _drop_pair_chunks(work):
    for f in os.listdir(work):
        if f.startswith('pairs_'):
            os.remove(osp.join(work, f))


def test_flipped_embedding_cache_is_named_and_recomputed(corr_set, tmp_path,
                                                         capsys):
    work = tmp_path / 'work'
    first, c1 = _run(corr_set, tmp_path / 'a.npz', work)
    emb = str(work / 'emb_000000002_000000004.npy')
    _flip(emb)
    _drop_pair_chunks(work)  # pass 2 interrupted: pairs mined again
    capsys.readouterr()
    second, c2 = _run(corr_set, tmp_path / 'b.npz', work)
    log = capsys.readouterr().out
    assert f'{emb}: SHA-256' in log and 'recomputed' in log, log
    # only the damaged chunk was embedded again; the pairs are unchanged
    assert 0 < c2['roi_forwards'] < c1['roi_forwards']
    _assert_same(first, second)


def test_embedding_cache_damaged_after_scan_is_refused(tmp_path):
    """A side file changed between the scan and its use (merge) is named."""
    work = str(tmp_path / 'work')
    job = ChunkedJob(work, 'emb', 4, 2, dict(tool='t'), 'RoI embeddings',
                     side_suffixes=('.npy', ), progress_interval=1000)

    def compute(chunk, prog):
        boxes = [np.ones((2, 4), np.float32)] * (chunk.end - chunk.start)
        flat, offsets = flatten_ragged(boxes, 4)
        emb = np.arange(len(flat) * 3, dtype=np.float32).reshape(-1, 3)
        atomic_write(side_path(chunk, '.npy'), lambda f: np.save(f, emb))
        return dict(boxes=flat, box_offsets=offsets)

    job.run(compute)
    assert job.pending() == []
    emb = side_path(job.chunks[1], '.npy')
    _flip(emb)
    with pytest.raises(ValueError, match='SHA-256') as e:
        job.read(job.chunks[1])
    assert emb in str(e.value) and job.chunks[1].path in str(e.value)
    assert 'rerun' in str(e.value)
    with pytest.raises(ValueError, match='SHA-256') as e:
        _EmbeddingStore(job)
    assert emb in str(e.value)
    # a truncated cache (another size) is named as well
    with open(emb, 'r+b') as f:
        f.truncate(os.path.getsize(emb) - 4)
    with pytest.raises(ValueError, match='bytes') as e:
        job.read(job.chunks[1])
    assert emb in str(e.value)
    # found when scanning: recomputed
    assert job.pending() == [job.chunks[1]]


def test_embedding_cache_without_checksum_is_refused(corr_set, tmp_path,
                                                     capsys):
    """A cache written without a checksum (older mmscrl) cannot be trusted:
    refused like a chunk without a fingerprint, recomputed with
    ``overwrite_stale``."""
    work = tmp_path / 'work'
    first, _ = _run(corr_set, tmp_path / 'a.npz', work)
    chunk = str(work / 'emb_000000000_000000002.npz')
    with np.load(chunk) as z:
        arrays = {k: z[k] for k in z.files if k != 'side_digests'}
    np.savez(chunk, **arrays)
    _flip(str(work / 'emb_000000000_000000002.npy'))
    _drop_pair_chunks(work)
    with pytest.raises(StaleChunkError, match='checksum') as e:
        _run(corr_set, tmp_path / 'b.npz', work)
    assert chunk in str(e.value) and '--overwrite-stale' in str(e.value)
    second, c2 = _run(corr_set, tmp_path / 'b.npz', work,
                      overwrite_stale=True)
    assert c2['roi_forwards'] > 0
    _assert_same(first, second)


# --------------------------------------------------------------------------
# item 14: names outside the data root
# --------------------------------------------------------------------------
def _escaping_names(tmp_path):
    outside = tmp_path / 'outside.jpg'
    return ['../../x.jpg', str(outside), 'sub/../../x.jpg', '..',
            '..\\..\\x.jpg', 'C:\\x.jpg']


@pytest.mark.parametrize('which', range(6))
def test_official_correspondence_names_outside_root_refused(
        tmp_path, which, official_orl_json):
    bad = _escaping_names(tmp_path)[which]
    data = official_orl_json('correspondence')
    data['images']['file_name'][1] = bad
    src = tmp_path / 'foreign_correspondence.json'
    src.write_text(json.dumps(data))
    with pytest.raises(ValueError, match='data root') as e:
        load_correspondence(str(src))
    msg = str(e.value)
    assert str(src) in msg and '"file_name"[1]' in msg and repr(bad) in msg


def test_stage3_dataset_refuses_names_outside_root(tmp_path,
                                                   official_orl_json):
    from mmscrl.datasets.orl_dataset import ORLDataset
    data_root = tmp_path / 'images'
    data_root.mkdir()
    outside = tmp_path / 'secret.jpg'
    outside.write_bytes(b'not for you')
    corr = official_orl_json('correspondence')
    corr['images']['file_name'] = ['a.jpg', str(outside)]
    ann = tmp_path / 'crafted.json'
    ann.write_text(json.dumps(corr))
    with pytest.raises(ValueError, match='outside the data root') as e:
        ORLDataset(ann_file=str(ann), data_prefix=str(data_root),
                   topk_knn_image=1)
    assert str(ann) in str(e.value) and repr(str(outside)) in str(e.value)


def test_npz_names_outside_root_refused(tmp_path):
    from mmscrl.orl import ORLKnn, save_knn
    good = tmp_path / 'knn.npz'
    save_knn(ORLKnn(['a.jpg', 'b.jpg'], np.array([[1], [0]])), str(good))
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    arrays['file_names'] = np.asarray(['a.jpg', '../../etc/x.jpg'])
    bad = tmp_path / 'crafted_knn.npz'
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match='outside the data root') as e:
        load_knn(str(bad))
    assert str(bad) in str(e.value) and "'../../etc/x.jpg'" in str(e.value)


def test_names_inside_root_and_user_symlinks_accepted(tmp_path,
                                                      official_orl_json):
    """Normalisation is lexical: ``sub/../b.jpg`` stays inside, and a
    symlink inside the user's data root is theirs to follow."""
    from mmscrl.datasets.orl_dataset import ORLDataset
    real = tmp_path / 'elsewhere'
    real.mkdir()
    data_root = tmp_path / 'images'
    data_root.mkdir()
    (data_root / 'linked').symlink_to(real)
    root_link = tmp_path / 'root_link'
    root_link.symlink_to(data_root)
    corr = official_orl_json('correspondence')
    corr['images']['file_name'] = ['linked/a.jpg', 'sub/../b.jpg']
    ann = tmp_path / 'ok.json'
    ann.write_text(json.dumps(corr))
    ds = ORLDataset(ann_file=str(ann), data_prefix=str(root_link),
                    topk_knn_image=1)
    assert ds.get_data_info(0)['img_path'] == osp.join(str(root_link),
                                                       'linked/a.jpg')


def test_image_lists_outside_root_refused(tmp_path, load_tool,
                                          make_orl_images):
    data = str(tmp_path / 'images')
    names = make_orl_images(data, n=2, size=(32, 32))
    lst = tmp_path / 'list.txt'
    lst.write_text(f'{names[0]}\n../other/x.jpg\n')
    ss = load_tool('orl/selective_search.py')
    out = str(tmp_path / 'ss.npz')
    with pytest.raises(ValueError, match='outside the data root') as e:
        ss.main(['--data-root', data, '--img-list', str(lst), '--out', out])
    assert str(lst) in str(e.value) and 'line 2' in str(e.value)
    ann = tmp_path / 'instances.json'
    ann.write_text(json.dumps(
        {'images': [{'file_name': names[0]}, {'file_name': '/abs/x.jpg'}]}))
    with pytest.raises(ValueError, match='outside the data root') as e:
        ss.main(['--data-root', data, '--ann-file', str(ann), '--out', out])
    assert str(ann) in str(e.value) and 'images[1]' in str(e.value)
    assert not osp.exists(out)


# --------------------------------------------------------------------------
# item 16: file names that are not UTF-8
# --------------------------------------------------------------------------
def _data_with_ff_name(tmp_path, make_orl_images):
    data = str(tmp_path / 'images')
    names = make_orl_images(data, n=2, size=(32, 32))
    bad = os.path.join(os.fsencode(data), b'\xff.jpg')
    with open(os.path.join(data, names[0]), 'rb') as f, open(bad, 'wb') as g:
        g.write(f.read())
    return data


@pytest.mark.parametrize('tool', ['selective_search', 'extract_knn'])
def test_non_utf8_file_name_refused_by_name(tmp_path, tool, load_tool,
                                            make_orl_images):
    data = _data_with_ff_name(tmp_path, make_orl_images)
    args = ['--data-root', data, '--out', str(tmp_path / 'out.npz')]
    if tool == 'extract_knn':  # refused before the model is built
        args = ['no_config.py', 'no_checkpoint.pth'] + args
    with pytest.raises(ValueError, match='not valid UTF-8') as e:
        load_tool(f'orl/{tool}.py').main(args)
    msg = str(e.value)
    assert repr(b'\xff.jpg') in msg and 'rename' in msg and data in msg
    msg.encode('ascii')  # printable on any terminal


def test_non_utf8_image_list_line_refused(tmp_path, load_tool,
                                          make_orl_images):
    data = str(tmp_path / 'images')
    names = make_orl_images(data, n=2, size=(32, 32))
    lst = tmp_path / 'list.txt'
    lst.write_bytes(names[0].encode() + b'\nsub/\xff.jpg\n')
    with pytest.raises(ValueError, match='not valid UTF-8') as e:
        load_tool('orl/selective_search.py').main(
            ['--data-root', data, '--img-list', str(lst), '--out',
             str(tmp_path / 'ss.npz')])
    msg = str(e.value)
    assert str(lst) in msg and 'line 2' in msg and 'rename' in msg
    assert repr(b'sub/\xff.jpg') in msg


def test_non_utf8_name_in_knn_file_refused(tmp_path, load_tool):
    """A foreign kNN file holding a surrogate-escaped name is refused when
    ``generate_correspondence.py`` loads it, naming file and entry."""
    from mmscrl.orl import ORLKnn, ORLProposals, save_knn, save_proposals
    good = tmp_path / 'knn.npz'
    save_knn(ORLKnn(['a.jpg', 'b.jpg'], np.array([[1], [0]])), str(good))
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    arrays['file_names'] = np.asarray(['a.jpg', os.fsdecode(b'\xff.jpg')])
    knn = tmp_path / 'foreign_knn.npz'
    np.savez(knn, **arrays)
    props = tmp_path / 'ss.npz'
    save_proposals(ORLProposals([np.ones((1, 4), np.float32)] * 2),
                   str(props))
    with pytest.raises(ValueError, match='not valid UTF-8') as e:
        load_tool('orl/generate_correspondence.py').main(
            ['no_config.py', 'no_checkpoint.pth', '--data-root',
             str(tmp_path), '--knn', str(knn), '--proposals', str(props),
             '--out', str(tmp_path / 'corr.npz')])
    msg = str(e.value)
    assert str(knn) in msg and '"file_name"[1]' in msg
    assert repr(b'\xff.jpg') in msg
