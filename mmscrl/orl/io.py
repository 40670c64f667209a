# Copyright (c) mmscrl contributors. All rights reserved.
"""Readers and writers of the ORL stage-2 files.

Three kinds of file link the ORL stages; every file indexes images by
position in one canonical image order. Each has our compact ``.npz`` format
and the official ORL JSON format (Jiahao000/ORL, read and written by
:mod:`mmscrl.orl.official`);
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
      ``boxes`` (sum B_i, 4) float32, ``info_json`` (optional).

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

    Our ``info`` keys: ``min_size, max_ratio, max_iou, topN, k, pair_ratio``
    (files written by the stage-2 tools add ``fingerprint``: every setting
    and input hash the result was computed from);
    the official ``info`` keys are mapped onto them when reading and back when
    writing JSON. The npz file of COCO train2017 is about 10x smaller than the
    official JSON and loads in seconds without building Python lists.

All npz files go through one schema path (:func:`save_npz` /
:func:`load_npz`): each data class names its ``NPZ_FORMAT`` and converts
itself to and from flat arrays. Every reader validates shapes, lengths,
index ranges, box sizes (``w, h >= 0``), kNN lists (no image is its own
neighbour) and image names (UTF-8 paths inside the data root: an absolute
name or one that leaves the root, ``../../x.jpg``, is refused, see
:func:`mmscrl.orl.utils.check_image_name`) and raises :class:`ValueError`
naming the file and the key at fault; a damaged or truncated ``.npz`` is
reported by name as such. Writers validate too, so no mmscrl tool writes a
name that a reader would refuse.
"""
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .jobs import NPZ_READ_ERRORS, atomic_write
from .utils import check_image_names

__all__ = [
    'ORLProposals', 'ORLKnn', 'ORLCorrespondence', 'save_proposals',
    'load_proposals', 'save_knn', 'load_knn', 'save_correspondence',
    'load_correspondence', 'save_npz', 'load_npz', 'atomic_write',
    'flatten_ragged', 'unflatten_ragged', 'OFFICIAL_INFO_KEYS'
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
# validation helpers
# --------------------------------------------------------------------------
def flatten_ragged(arrays: Sequence[np.ndarray], width: int, dtype=np.float32):
    """Concatenate (L_i, width) arrays; returns ``(flat, offsets)`` with
    ``offsets`` (len+1,) int64 such that ``arrays[i] == flat[o[i]:o[i+1]]``
    and ``flat`` of ``dtype`` (float32 by default)."""
    lens = np.fromiter((len(a) for a in arrays), dtype=np.int64,
                       count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if len(arrays):
        flat = np.concatenate(
            [np.asarray(a, dtype=dtype).reshape(-1, width) for a in arrays])
    else:
        flat = np.zeros((0, width), dtype=dtype)
    return flat.astype(dtype, copy=False), offsets


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


#: which columns of a (B, width) box array are sizes (w, h)
_SIZE_COLUMNS = {4: [2, 3], 8: [2, 3, 6, 7]}


def _as_box_array(value, width: int, source: str, key: str) -> np.ndarray:
    """One image's boxes as (B, width) float32, undoing the official
    ``squeeze()`` (a single box stored flat, no box stored as ``[]``).
    Refuses non-numeric, wrongly shaped, non-finite and negative-size
    boxes."""
    if isinstance(value, (str, bytes, dict)):
        raise ValueError(f'{source}: "{key}" is a {type(value).__name__}, '
                         f'expected a (B, {width}) list of numbers')
    try:
        arr = np.asarray(value)
        if arr.size and arr.dtype.kind not in 'biuf':
            raise TypeError(f'elements of type {arr.dtype}')
        arr = arr.astype(np.float32, copy=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise ValueError(f'{source}: "{key}" is not a numeric '
                         f'(B, {width}) array: {type(e).__name__}: '
                         f'{str(e)[:200]}') from None
    if arr.ndim == 1 and arr.shape[0] == width:  # squeezed single box
        arr = arr[None]
    elif arr.size == 0:
        arr = arr.reshape(0, width)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f'{source}: "{key}" has shape {arr.shape}, '
                         f'expected (B, {width})')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{source}: "{key}" contains non-finite values')
    sizes = arr[:, _SIZE_COLUMNS.get(width, [])]
    if sizes.size and sizes.min() < 0:
        r, c = np.argwhere(sizes < 0)[0]
        raise ValueError(f'{source}: "{key}"[{r}] = {arr[r].tolist()} has a '
                         f'negative width/height ({sizes[r, c]:g}); boxes '
                         'are (x, y, w, h)')
    return arr


def _check_boxes(boxes, width, source, key) -> List[np.ndarray]:
    if not isinstance(boxes, (list, tuple)):
        raise ValueError(f'{source}: "{key}" is a {type(boxes).__name__}, '
                         'expected a list over images')
    return [
        _as_box_array(b, width, source, f'{key}[{i}]')
        for i, b in enumerate(boxes)
    ]


def _check_knn(knn, n, source, key) -> np.ndarray:
    try:
        knn = np.asarray(knn)
    except (TypeError, ValueError, RecursionError) as e:  # ragged lists
        raise ValueError(f'{source}: "{key}" is not an (N, K) array: '
                         f'{type(e).__name__}: {str(e)[:200]}') from None
    if knn.ndim != 2 or knn.shape[0] != n:
        raise ValueError(f'{source}: "{key}" has shape {knn.shape}, '
                         f'expected ({n}, K)')
    if knn.size and not (np.issubdtype(knn.dtype, np.integer) or
                         np.issubdtype(knn.dtype, np.floating)):
        raise ValueError(f'{source}: "{key}" must hold integer indices, '
                         f'got dtype {knn.dtype}')
    if knn.size and not np.issubdtype(knn.dtype, np.integer):
        if not np.all(np.equal(np.mod(knn, 1), 0)):
            raise ValueError(f'{source}: "{key}" must hold integer indices')
    knn = knn.astype(np.int64)
    if knn.size and (knn.min() < 0 or knn.max() >= n):
        bad = np.argwhere((knn < 0) | (knn >= n))[0]
        raise ValueError(
            f'{source}: "{key}"[{bad[0]}][{bad[1]}] = {knn[tuple(bad)]} is '
            f'out of range [0, {n})')
    own = knn == np.arange(n)[:, None]
    if own.any():
        i, j = np.argwhere(own)[0]
        raise ValueError(f'{source}: "{key}"[{i}][{j}] = {i}: image {i} is '
                         'listed as its own neighbour')
    return knn


def _check_names(names, source: str, key: str = 'file_name') -> List[str]:
    if not isinstance(names, (list, tuple, np.ndarray)):
        raise ValueError(f'{source}: "{key}" is a {type(names).__name__}, '
                         'expected a list of image paths')
    for i, n in enumerate(names):
        if not isinstance(n, (str, np.str_)):
            raise ValueError(f'{source}: "{key}"[{i}] = {n!r} is not a '
                             'string')
    # UTF-8 and inside the data root (mmscrl.orl.utils.check_image_name)
    return check_image_names([str(n) for n in names], source, key)


def _check_info(info, source: str) -> dict:
    if not isinstance(info, dict):
        raise ValueError(f'{source}: "info" is a {type(info).__name__}, '
                         'expected an object')
    return dict(info)


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
        info (dict): settings the proposals were computed with (empty when
            unknown).
    """
    boxes: List[np.ndarray]
    file_names: List[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    NPZ_FORMAT = 'mmscrl.orl.proposals'

    def validate(self, source: str = '<memory>') -> 'ORLProposals':
        self.boxes = _check_boxes(self.boxes, 4, source, 'bbox')
        self.file_names = _check_names(self.file_names, source)
        self.info = _check_info(self.info, source)
        if self.file_names and len(self.file_names) != len(self.boxes):
            raise ValueError(
                f'{source}: "file_names" has {len(self.file_names)} entries '
                f'but "bbox" has {len(self.boxes)} images')
        return self

    def to_arrays(self) -> Dict[str, np.ndarray]:
        flat, offsets = flatten_ragged(self.boxes, 4)
        return dict(file_names=_str_array(self.file_names),
                    box_offsets=offsets, boxes=flat)

    @classmethod
    def from_arrays(cls, data: dict, info: dict,
                    source: str) -> 'ORLProposals':
        boxes = unflatten_ragged(
            _npz_key(data, 'boxes', source),
            _npz_key(data, 'box_offsets', source), source, 'box_offsets')
        names = [str(n) for n in _npz_key(data, 'file_names', source)]
        return cls(boxes=boxes, file_names=names, info=info).validate(source)


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

    NPZ_FORMAT = 'mmscrl.orl.knn'

    def validate(self, source: str = '<memory>') -> 'ORLKnn':
        self.file_names = _check_names(self.file_names, source)
        self.info = _check_info(self.info, source)
        self.knn = _check_knn(self.knn, len(self.file_names), source,
                              'knn_image_id')
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32)
            if self.scores.shape != self.knn.shape:
                raise ValueError(
                    f'{source}: "scores" has shape {self.scores.shape}, '
                    f'expected {self.knn.shape}')
        return self

    def to_arrays(self) -> Dict[str, np.ndarray]:
        arrays = dict(file_names=_str_array(self.file_names),
                      knn=self.knn.astype(np.int64))
        if self.scores is not None:
            arrays['scores'] = self.scores.astype(np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, data: dict, info: dict, source: str) -> 'ORLKnn':
        names = [str(n) for n in _npz_key(data, 'file_names', source)]
        return cls(file_names=names, knn=_npz_key(data, 'knn', source),
                   scores=data.get('scores'), info=info).validate(source)


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

    NPZ_FORMAT = 'mmscrl.orl.correspondence'

    def __len__(self) -> int:
        return len(self.file_names)

    def validate(self,
                 source: str = '<memory>',
                 check_arrays: bool = True) -> 'ORLCorrespondence':
        """Check lengths, shapes and index ranges (``check_arrays=False``
        skips the per-array checks, for arrays already checked in bulk)."""
        self.file_names = _check_names(self.file_names, source)
        self.info = _check_info(self.info, source)
        n = len(self.file_names)
        if not isinstance(self.boxes, (list, tuple)):
            raise ValueError(f'{source}: "bbox" is a '
                             f'{type(self.boxes).__name__}, expected a list '
                             'over images')
        if len(self.boxes) != n:
            raise ValueError(f'{source}: "bbox" has {len(self.boxes)} images '
                             f'but "file_name" has {n}')
        if check_arrays:
            self.boxes = _check_boxes(self.boxes, 4, source, 'bbox')
        self.knn = _check_knn(self.knn, n, source, 'knn_image_id')
        if not isinstance(self.pairs, (list, tuple)) or not all(
                isinstance(r, (list, tuple)) for r in self.pairs):
            raise ValueError(f'{source}: "knn_bbox_pair" must be a list '
                             '[N][K][P][8]')
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
                self.pairs[i] = _check_boxes(list(row), 8, source,
                                             f'knn_bbox_pair[{i}]')
        return self

    def to_arrays(self) -> Dict[str, np.ndarray]:
        boxes, box_offsets = flatten_ragged(self.boxes, 4)
        pairs, pair_offsets = flatten_ragged(
            [p for row in self.pairs for p in row], 8)
        return dict(file_names=_str_array(self.file_names),
                    box_offsets=box_offsets, boxes=boxes,
                    knn=self.knn.astype(np.int64), pair_offsets=pair_offsets,
                    pairs=pairs)

    @classmethod
    def from_arrays(cls, data: dict, info: dict,
                    source: str) -> 'ORLCorrespondence':
        names = [str(n) for n in _npz_key(data, 'file_names', source)]
        knn = _npz_key(data, 'knn', source)
        # check the flat arrays once instead of N*K small ones
        flat_boxes = _as_box_array(_npz_key(data, 'boxes', source), 4,
                                   source, 'boxes')
        flat_pairs = _as_box_array(_npz_key(data, 'pairs', source), 8,
                                   source, 'pairs')
        boxes = unflatten_ragged(flat_boxes,
                                 _npz_key(data, 'box_offsets', source),
                                 source, 'box_offsets')
        slots = unflatten_ragged(flat_pairs,
                                 _npz_key(data, 'pair_offsets', source),
                                 source, 'pair_offsets')
        if knn.ndim != 2 or len(slots) != knn.shape[0] * knn.shape[1]:
            raise ValueError(
                f'{source}: "pair_offsets" describes {len(slots)} (image, '
                f'kNN) slots but "knn" has shape {knn.shape}')
        k = knn.shape[1]
        pairs = [slots[i * k:(i + 1) * k] for i in range(knn.shape[0])]
        return cls(file_names=names, boxes=boxes, knn=knn, pairs=pairs,
                   info=info).validate(source, check_arrays=False)


# --------------------------------------------------------------------------
# the one npz schema path
# --------------------------------------------------------------------------
def _str_array(names: Sequence[str]) -> np.ndarray:
    return np.asarray(list(names), dtype=np.str_) if len(names) else \
        np.zeros((0,), dtype='<U1')


def _npz_key(data: dict, key: str, source: str):
    if key not in data:
        raise ValueError(f'{source}: missing key "{key}"')
    return data[key]


def save_npz(obj, path: str) -> None:
    """Write a stage-2 data class as our npz: its ``to_arrays()`` plus
    ``format``, ``version`` and ``info_json``, atomically."""
    obj.validate()
    arrays = dict(format=np.asarray(obj.NPZ_FORMAT),
                  version=np.asarray(NPZ_VERSION),
                  info_json=np.asarray(json.dumps(obj.info, default=str)),
                  **obj.to_arrays())
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_npz(path: str, cls):
    """Read our npz of data class ``cls`` (checks ``format``/``version``).

    Raises:
        ValueError: naming ``path`` when it is missing, not an npz, corrupt
            or truncated, of another kind, or malformed.
    """
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ValueError(f'{path}: no such file') from None
    except NPZ_READ_ERRORS as e:
        raise ValueError(
            f'{path}: cannot read as .npz, the file is corrupt or truncated '
            f'({type(e).__name__}: {e}); recreate it with the tool that '
            'wrote it') from None
    got = str(data.get('format', ''))
    if got != cls.NPZ_FORMAT:
        raise ValueError(f'{path}: key "format" is {got!r}, expected '
                         f'{cls.NPZ_FORMAT!r}')
    version = int(data.get('version', -1))
    if version > NPZ_VERSION:
        raise ValueError(f'{path}: key "version" is {version}; this mmscrl '
                         f'reads up to {NPZ_VERSION}')
    try:
        info = json.loads(str(data.get('info_json', '{}')))
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: key "info_json" is not JSON ({e})') \
            from None
    return cls.from_arrays(data, info, path)


def _is_json(path: str) -> bool:
    return str(path).lower().endswith('.json')


# --------------------------------------------------------------------------
# public save/load: npz here, official JSON in mmscrl.orl.official
# --------------------------------------------------------------------------
def save_proposals(props: ORLProposals, path: str) -> None:
    """Write proposals as npz, or as official SS JSON for ``*.json`` (with
    the official single-box squeeze)."""
    if _is_json(path):
        from .official import write_proposals_json
        return write_proposals_json(props, path)
    save_npz(props, path)


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
    if _is_json(path):
        from .official import read_proposals_json
        return read_proposals_json(str(path))
    return load_npz(path, ORLProposals)


def save_knn(knn: ORLKnn, path: str) -> None:
    """Write the kNN result as npz, or as the official kNN JSON for
    ``*.json``."""
    if _is_json(path):
        from .official import write_knn_json
        return write_knn_json(knn, path)
    save_npz(knn, path)


def load_knn(path: str) -> ORLKnn:
    """Read the kNN result from our npz or the official kNN JSON."""
    if _is_json(path):
        from .official import read_knn_json
        return read_knn_json(str(path))
    return load_npz(path, ORLKnn)


def save_correspondence(corr: ORLCorrespondence, path: str) -> None:
    """Write the correspondence as compact npz (ragged arrays flattened with
    offsets), or as the official correspondence JSON for ``*.json``."""
    if _is_json(path):
        from .official import write_correspondence_json
        return write_correspondence_json(corr, path)
    save_npz(corr, path)


def load_correspondence(path: str) -> ORLCorrespondence:
    """Read a correspondence file: our npz or the official ORL JSON."""
    if _is_json(path):
        from .official import read_correspondence_json
        return read_correspondence_json(str(path))
    return load_npz(path, ORLCorrespondence)
