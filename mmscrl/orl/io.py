# Copyright (c) mmscrl contributors. All rights reserved.
"""Readers and writers of the ORL stage-2 files.

Three kinds of file link the ORL stages (spec ``orl.md`` §4). Each has our
compact ``.npz`` format and the official ORL JSON format (Jiahao000/ORL);
every ``load_*`` accepts both (chosen by the ``.json`` extension, anything
else is read as ``.npz``) and every ``save_*`` writes the format its
extension names, atomically (temporary file in the same folder, then
:func:`os.replace`).

**Selective-search proposals** (:class:`ORLProposals`)
    * official JSON: ``{"bbox": [N][B_i][4]}``, raw OpenCV ``(x, y, w, h)``
      boxes. The official tool ``squeeze()``-s every image's array, so an
      image with exactly one box is stored flat as ``[x, y, w, h]`` (and one
      with no box as ``[]``); the reader undoes both.
    * npz: ``format='mmscrl.orl.proposals'``, ``version``, ``file_names``
      (N,) str (may be empty when unknown), ``box_offsets`` (N+1,) int64,
      ``boxes`` (sum B_i, 4) float32.

**Image kNN** (:class:`ORLKnn`)
    * official JSON: ``{"info": {"knn_image_num": K}, "images": {"file_name":
      [N], "id": [N]}, "pseudo_annotations": {"image_id": [N],
      "knn_image_id": [N][K]}}``; ``knn_image_id`` holds row indices into the
      canonical image order (positions, not COCO ids).
    * npz: ``format='mmscrl.orl.knn'``, ``file_names`` (N,), ``knn`` (N, K)
      int64, ``scores`` (N, K) float32 (cosine similarities, optional),
      ``info_json``.

**Correspondence** (:class:`ORLCorrespondence`)
    * official JSON: ``{"info": {"bbox_min_size", "bbox_max_aspect_ratio",
      "bbox_max_iou", "intra_bbox_num", "knn_image_num",
      "knn_bbox_pair_ratio"}, "images": {"file_name", "id"},
      "pseudo_annotations": {"image_id", "bbox": [N][B_i][4],
      "knn_image_id": [N][K], "knn_bbox_pair": [N][K][P_ik][8]}}``.
    * npz: ``format='mmscrl.orl.correspondence'``, ``file_names`` (N,),
      ``box_offsets`` (N+1,), ``boxes`` (sum B_i, 4) float32, ``knn`` (N, K)
      int64, ``pair_offsets`` (N*K+1,) int64 (row-major over (image, kNN
      slot)), ``pairs`` (sum P_ik, 8) float32 ``[xq, yq, wq, hq, xk, yk, wk,
      hk]``, ``info_json`` (our info keys below).

    Our ``info`` keys: ``min_size, max_ratio, max_iou, topN, k, pair_ratio``;
    the official ``info`` keys are mapped onto them when reading and back when
    writing JSON. The npz file of COCO train2017 is about 10x smaller than the
    official JSON and loads in seconds without building Python lists.

Every reader validates shapes, lengths and index ranges and raises
:class:`ValueError` naming the file and the key at fault.
"""
import json
import os
import os.path as osp
import tempfile
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np

__all__ = [
    'ORLProposals', 'ORLKnn', 'ORLCorrespondence', 'save_proposals',
    'load_proposals', 'save_knn', 'load_knn', 'save_correspondence',
    'load_correspondence', 'atomic_write', 'flatten_ragged', 'unflatten_ragged',
    'OFFICIAL_INFO_KEYS'
]

NPZ_VERSION = 1

#: our ``info`` key -> official correspondence JSON ``info`` key
OFFICIAL_INFO_KEYS = dict(
    min_size='bbox_min_size',
    max_ratio='bbox_max_aspect_ratio',
    max_iou='bbox_max_iou',
    topN='intra_bbox_num',
    k='knn_image_num',
    pair_ratio='knn_bbox_pair_ratio')


# --------------------------------------------------------------------------
# data classes
# --------------------------------------------------------------------------
@dataclass
class ORLProposals:
    """Raw selective-search proposals of N images.

    Args:
        boxes (list[np.ndarray]): per image, (B_i, 4) float32 ``xywh`` boxes
            in OpenCV output order.
        file_names (list[str]): canonical image order (paths relative to the
            data prefix); empty when unknown (official JSON has none).
    """
    boxes: List[np.ndarray]
    file_names: List[str] = field(default_factory=list)

    def validate(self, source: str = '<memory>') -> 'ORLProposals':
        self.boxes = _check_boxes(self.boxes, 4, source, 'bbox')
        if self.file_names and len(self.file_names) != len(self.boxes):
            raise ValueError(
                f'{source}: "file_names" has {len(self.file_names)} entries '
                f'but "bbox" has {len(self.boxes)} images')
        return self


@dataclass
class ORLKnn:
    """Image kNN of N images.

    Args:
        file_names (list[str]): canonical image order.
        knn (np.ndarray): (N, K) int64 row indices, self excluded, most
            similar first.
        scores (np.ndarray, optional): (N, K) float32 cosine similarities.
        info (dict): retrieval parameters (``k``, ...).
    """
    file_names: List[str]
    knn: np.ndarray
    scores: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)

    def validate(self, source: str = '<memory>') -> 'ORLKnn':
        self.knn = _check_knn(self.knn, len(self.file_names), source,
                              'knn_image_id')
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32)
            if self.scores.shape != self.knn.shape:
                raise ValueError(
                    f'{source}: "scores" has shape {self.scores.shape}, '
                    f'expected {self.knn.shape}')
        return self


@dataclass
class ORLCorrespondence:
    """Result of ORL stage 2: intra boxes, image kNN and RoI pairs.

    Args:
        file_names (list[str]): canonical image order, paths relative to the
            data prefix.
        boxes (list[np.ndarray]): per image, (B_i, 4) float32 filtered intra
            boxes, ``xywh``.
        knn (np.ndarray): (N, K) int64 row indices into ``file_names`` (self
            excluded).
        pairs (list[list[np.ndarray]]): [N][K] arrays of shape (P_ik, 8)
            float32 ``[xq, yq, wq, hq, xk, yk, wk, hk]``; query boxes lie in
            image i, key boxes in image ``knn[i, k]``.
        info (dict): filter/retrieval parameters (``min_size, max_ratio,
            max_iou, topN, k, pair_ratio``).
    """
    file_names: List[str]
    boxes: List[np.ndarray]
    knn: np.ndarray
    pairs: List[List[np.ndarray]]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.file_names)

    def validate(self,
                 source: str = '<memory>',
                 check_arrays: bool = True) -> 'ORLCorrespondence':
        """Check lengths, shapes and index ranges (``check_arrays=False``
        skips the per-array checks, for arrays already checked in bulk)."""
        n = len(self.file_names)
        if len(self.boxes) != n:
            raise ValueError(f'{source}: "bbox" has {len(self.boxes)} images '
                             f'but "file_name" has {n}')
        if check_arrays:
            self.boxes = _check_boxes(self.boxes, 4, source, 'bbox')
        self.knn = _check_knn(self.knn, n, source, 'knn_image_id')
        if len(self.pairs) != n:
            raise ValueError(f'{source}: "knn_bbox_pair" has '
                             f'{len(self.pairs)} images, expected {n}')
        k = self.knn.shape[1]
        for i, row in enumerate(self.pairs):
            if len(row) != k:
                raise ValueError(
                    f'{source}: "knn_bbox_pair"[{i}] has {len(row)} kNN '
                    f'entries, expected {k}')
            if check_arrays:
                self.pairs[i] = _check_boxes(row, 8, source,
                                             f'knn_bbox_pair[{i}]')
        return self


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def atomic_write(path: str, write_fn: Callable, mode: str = 'wb') -> None:
    """Call ``write_fn(fileobj)`` on a temporary file, then move it to
    ``path`` with :func:`os.replace` (never leaves a partial ``path``)."""
    path = osp.abspath(path)
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def flatten_ragged(arrays: Sequence[np.ndarray], width: int):
    """Concatenate (L_i, width) arrays; returns ``(flat, offsets)`` with
    ``offsets`` (len+1,) int64 such that ``arrays[i] == flat[o[i]:o[i+1]]``."""
    lens = np.fromiter((len(a) for a in arrays), dtype=np.int64,
                       count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if len(arrays):
        flat = np.concatenate(
            [np.asarray(a, dtype=np.float32).reshape(-1, width)
             for a in arrays])
    else:
        flat = np.zeros((0, width), dtype=np.float32)
    return flat.astype(np.float32, copy=False), offsets


def unflatten_ragged(flat: np.ndarray, offsets: np.ndarray,
                     source: str = '<memory>', key: str = 'offsets'):
    """Inverse of :func:`flatten_ragged` (views into ``flat``)."""
    offsets = np.asarray(offsets)
    if (offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0
            or np.any(np.diff(offsets) < 0) or offsets[-1] != len(flat)):
        raise ValueError(
            f'{source}: "{key}" must be non-decreasing offsets from 0 to '
            f'{len(flat)} (the row count of the flat array)')
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def _as_box_array(value, width: int, source: str, key: str) -> np.ndarray:
    """One image's boxes as (B, width) float32, undoing the official
    ``squeeze()`` (a single box stored flat, no box stored as ``[]``)."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{source}: "{key}" is not a numeric '
                         f'(B, {width}) array: {e}') from None
    if arr.ndim == 1 and arr.shape[0] == width:  # squeezed single box
        arr = arr[None]
    elif arr.size == 0:
        arr = arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f'{source}: "{key}" has shape {arr.shape}, '
                         f'expected (B, {width})')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{source}: "{key}" contains non-finite values')
    return arr


def _check_boxes(boxes, width, source, key) -> List[np.ndarray]:
    return [
        _as_box_array(b, width, source, f'{key}[{i}]')
        for i, b in enumerate(boxes)
    ]


def _check_knn(knn, n, source, key) -> np.ndarray:
    try:
        knn = np.asarray(knn)
    except ValueError as e:  # ragged lists
        raise ValueError(f'{source}: "{key}" is not an (N, K) array: '
                         f'{e}') from None
    if knn.ndim != 2 or knn.shape[0] != n:
        raise ValueError(f'{source}: "{key}" has shape {knn.shape}, '
                         f'expected ({n}, K)')
    if knn.size and not np.issubdtype(knn.dtype, np.integer):
        if not np.all(np.equal(np.mod(knn, 1), 0)):
            raise ValueError(f'{source}: "{key}" must hold integer indices')
    knn = knn.astype(np.int64)
    if knn.size and (knn.min() < 0 or knn.max() >= n):
        bad = np.argwhere((knn < 0) | (knn >= n))[0]
        raise ValueError(
            f'{source}: "{key}"[{bad[0]}][{bad[1]}] = {knn[tuple(bad)]} is '
            f'out of range [0, {n})')
    return knn


def _is_json(path: str) -> bool:
    return str(path).lower().endswith('.json')


def _read_json(path: str) -> dict:
    try:
        with open(path, 'r') as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(data, dict):
        raise ValueError(f'{path}: top level must be a JSON object')
    return data


def _get(d: dict, key: str, source: str, parent: str = ''):
    if not isinstance(d, dict) or key not in d:
        where = f'"{parent}"' if parent else 'the top level'
        raise ValueError(f'{source}: missing key "{key}" in {where}')
    return d[key]


def _write_json(path: str, obj: dict) -> None:
    atomic_write(path, lambda f: json.dump(obj, f), mode='w')


def _write_npz(path: str, **arrays) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _read_npz(path: str, fmt: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f'{path}: cannot read as .npz ({e})') from None
    got = str(data.get('format', ''))
    if got != fmt:
        raise ValueError(f'{path}: key "format" is {got!r}, expected '
                         f'{fmt!r}')
    version = int(data.get('version', -1))
    if version > NPZ_VERSION:
        raise ValueError(f'{path}: key "version" is {version}; this mmscrl '
                         f'reads up to {NPZ_VERSION}')
    return data


def _npz_key(data: dict, key: str, source: str):
    if key not in data:
        raise ValueError(f'{source}: missing key "{key}"')
    return data[key]


def _str_array(names: Sequence[str]) -> np.ndarray:
    return np.asarray(list(names), dtype=np.str_) if len(names) else \
        np.zeros((0,), dtype='<U1')


def _official_images(data: dict, source: str):
    images = _get(data, 'images', source)
    if isinstance(images, dict):
        names = list(_get(images, 'file_name', source, 'images'))
        ids = images.get('id', list(range(len(names))))
    elif isinstance(images, list):  # tolerate COCO-style list of dicts
        names = [_get(im, 'file_name', source, 'images[]') for im in images]
        ids = [im.get('id', i) for i, im in enumerate(images)]
    else:
        raise ValueError(f'{source}: "images" must be an object with '
                         '"file_name" and "id" lists')
    return [str(n) for n in names], list(ids)


def _official_images_block(file_names, ids=None):
    ids = list(range(len(file_names))) if ids is None else list(ids)
    return dict(file_name=list(file_names), id=ids)


# --------------------------------------------------------------------------
# proposals
# --------------------------------------------------------------------------
def save_proposals(props: ORLProposals, path: str) -> None:
    """Write proposals as npz, or as official SS JSON for ``*.json`` (with
    the official single-box squeeze, so the file is byte-compatible in
    structure with the authors' release)."""
    props.validate()
    if _is_json(path):
        out = []
        for b in props.boxes:
            lst = np.asarray(b).astype(np.int64).tolist() if np.all(
                np.mod(b, 1) == 0) else np.asarray(b).tolist()
            out.append(lst[0] if len(lst) == 1 else lst)
        _write_json(path, dict(bbox=out))
        return
    flat, offsets = flatten_ragged(props.boxes, 4)
    _write_npz(
        path,
        format=np.asarray('mmscrl.orl.proposals'),
        version=np.asarray(NPZ_VERSION),
        file_names=_str_array(props.file_names),
        box_offsets=offsets,
        boxes=flat)


def load_proposals(path) -> ORLProposals:
    """Read proposals from our npz, an official SS JSON, or a list/tuple of
    official SS JSON files concatenated in order (COCO+ = train2017 +
    unlabeled2017)."""
    if isinstance(path, (list, tuple)):
        parts = [load_proposals(p) for p in path]
        boxes = [b for p in parts for b in p.boxes]
        names = [n for p in parts for n in p.file_names]
        if names and len(names) != len(boxes):
            names = []
        return ORLProposals(boxes=boxes, file_names=names).validate(
            ' + '.join(map(str, path)))
    path = str(path)
    if _is_json(path):
        data = _read_json(path)
        bbox = _get(data, 'bbox', path)
        if not isinstance(bbox, list):
            raise ValueError(f'{path}: "bbox" must be a list over images')
        return ORLProposals(boxes=bbox).validate(path)
    data = _read_npz(path, 'mmscrl.orl.proposals')
    boxes = unflatten_ragged(
        _npz_key(data, 'boxes', path), _npz_key(data, 'box_offsets', path),
        path, 'box_offsets')
    names = [str(n) for n in _npz_key(data, 'file_names', path)]
    return ORLProposals(boxes=boxes, file_names=names).validate(path)


# --------------------------------------------------------------------------
# kNN
# --------------------------------------------------------------------------
def save_knn(knn: ORLKnn, path: str) -> None:
    """Write the kNN result as npz, or as the official kNN JSON for
    ``*.json``."""
    knn.validate()
    if _is_json(path):
        n, k = knn.knn.shape
        _write_json(
            path,
            dict(
                info=dict(knn_image_num=int(k)),
                images=_official_images_block(knn.file_names),
                pseudo_annotations=dict(
                    image_id=list(range(n)), knn_image_id=knn.knn.tolist())))
        return
    arrays = dict(
        format=np.asarray('mmscrl.orl.knn'),
        version=np.asarray(NPZ_VERSION),
        file_names=_str_array(knn.file_names),
        knn=knn.knn.astype(np.int64),
        info_json=np.asarray(json.dumps(knn.info)))
    if knn.scores is not None:
        arrays['scores'] = knn.scores.astype(np.float32)
    _write_npz(path, **arrays)


def load_knn(path: str) -> ORLKnn:
    """Read the kNN result from our npz or the official kNN JSON."""
    path = str(path)
    if _is_json(path):
        data = _read_json(path)
        names, _ = _official_images(data, path)
        pa = _get(data, 'pseudo_annotations', path)
        ids = _get(pa, 'knn_image_id', path, 'pseudo_annotations')
        info = dict(data.get('info', {}))
        if 'knn_image_num' in info:
            info['k'] = info.pop('knn_image_num')
        return ORLKnn(file_names=names, knn=ids, info=info).validate(path)
    data = _read_npz(path, 'mmscrl.orl.knn')
    names = [str(n) for n in _npz_key(data, 'file_names', path)]
    return ORLKnn(
        file_names=names,
        knn=_npz_key(data, 'knn', path),
        scores=data.get('scores'),
        info=json.loads(str(data.get('info_json', '{}')))).validate(path)


# --------------------------------------------------------------------------
# correspondence
# --------------------------------------------------------------------------
def save_correspondence(corr: ORLCorrespondence, path: str) -> None:
    """Write the correspondence as compact npz (ragged arrays flattened with
    offsets), or as the official correspondence JSON for ``*.json``."""
    corr.validate()
    n, k = corr.knn.shape
    if _is_json(path):
        info = {
            OFFICIAL_INFO_KEYS.get(key, key): v
            for key, v in corr.info.items()
        }
        _write_json(
            path,
            dict(
                info=info,
                images=_official_images_block(corr.file_names),
                pseudo_annotations=dict(
                    image_id=list(range(n)),
                    bbox=[b.tolist() for b in corr.boxes],
                    knn_image_id=corr.knn.tolist(),
                    knn_bbox_pair=[[p.tolist() for p in row]
                                   for row in corr.pairs])))
        return
    boxes, box_offsets = flatten_ragged(corr.boxes, 4)
    pairs, pair_offsets = flatten_ragged(
        [p for row in corr.pairs for p in row], 8)
    _write_npz(
        path,
        format=np.asarray('mmscrl.orl.correspondence'),
        version=np.asarray(NPZ_VERSION),
        file_names=_str_array(corr.file_names),
        box_offsets=box_offsets,
        boxes=boxes,
        knn=corr.knn.astype(np.int64),
        pair_offsets=pair_offsets,
        pairs=pairs,
        info_json=np.asarray(json.dumps(corr.info)))


def load_correspondence(path: str) -> ORLCorrespondence:
    """Read a correspondence file: our npz or the official ORL JSON."""
    path = str(path)
    if _is_json(path):
        data = _read_json(path)
        names, _ = _official_images(data, path)
        pa = _get(data, 'pseudo_annotations', path)
        bbox = _get(pa, 'bbox', path, 'pseudo_annotations')
        knn = _get(pa, 'knn_image_id', path, 'pseudo_annotations')
        pairs = _get(pa, 'knn_bbox_pair', path, 'pseudo_annotations')
        if not isinstance(pairs, list) or not all(
                isinstance(r, list) for r in pairs):
            raise ValueError(f'{path}: "knn_bbox_pair" must be a list '
                             '[N][K][P][8]')
        inv = {v: key for key, v in OFFICIAL_INFO_KEYS.items()}
        info = {inv.get(key, key): v for key, v in
                dict(data.get('info', {})).items()}
        return ORLCorrespondence(
            file_names=names, boxes=bbox, knn=knn,
            pairs=[list(r) for r in pairs], info=info).validate(path)
    data = _read_npz(path, 'mmscrl.orl.correspondence')
    names = [str(n) for n in _npz_key(data, 'file_names', path)]
    knn = _npz_key(data, 'knn', path)
    # check the flat arrays once instead of N*K small ones
    flat_boxes = _as_box_array(_npz_key(data, 'boxes', path), 4, path,
                               'boxes')
    flat_pairs = _as_box_array(_npz_key(data, 'pairs', path), 8, path,
                               'pairs')
    boxes = unflatten_ragged(flat_boxes, _npz_key(data, 'box_offsets', path),
                             path, 'box_offsets')
    flat_pairs = unflatten_ragged(flat_pairs,
                                  _npz_key(data, 'pair_offsets', path), path,
                                  'pair_offsets')
    if knn.ndim != 2 or len(flat_pairs) != knn.shape[0] * knn.shape[1]:
        raise ValueError(
            f'{path}: "pair_offsets" describes {len(flat_pairs)} (image, '
            f'kNN) slots but "knn" has shape {knn.shape}')
    k = knn.shape[1]
    pairs = [flat_pairs[i * k:(i + 1) * k] for i in range(knn.shape[0])]
    return ORLCorrespondence(
        file_names=names, boxes=boxes, knn=knn, pairs=pairs,
        info=json.loads(str(data.get('info_json', '{}')))).validate(
            path, check_arrays=False)
