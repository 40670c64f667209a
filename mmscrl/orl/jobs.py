# Copyright (c) mmscrl contributors. All rights reserved.
"""The chunked, resumable job loop shared by the three ORL stage-2 passes.

Selective search, image kNN and RoI-pair mining all split N images into
contiguous chunks, compute each chunk once, write it atomically into a work
folder, skip finished chunks on a restart and finally merge the chunks.
:class:`ChunkedJob` is that loop, written once:

* **Fingerprint.** Every setting that changes a chunk's content (mode, seed,
  filter settings, patch size, k, the image list, the model's content hash,
  ...) is a key of the job's ``fingerprint`` dict. It is stored in every
  chunk; an existing chunk whose fingerprint differs is *stale*: the job
  refuses with :class:`StaleChunkError` naming the setting(s) that differ,
  or deletes and recomputes it with ``overwrite_stale=True``.
* **Corrupt chunks.** A chunk that cannot be read when the job scans the
  work folder (truncated or damaged by something else; our own writes are
  atomic) is reported by name and recomputed. One that fails when merging
  raises :class:`ValueError` naming the file to delete. The ``.npz`` chunks
  carry zip CRCs, so numpy detects a flipped byte in them; a **side file**
  (e.g. the memory-mapped ``emb_*.npy`` RoI-embedding cache of stage 2c) has
  none, so the chunk records its SHA-256, byte size and (``.npy``) shape
  and dtype in ``side_digests`` when it is written (after the side file, so
  the record describes what is on disk; the chunk's fingerprint says what
  produced it). The side file is verified against that record when the job
  scans the folder (a mismatch is named and recomputed, like a corrupt
  chunk) and again when it is read for use (a mismatch is a
  :class:`ValueError` naming the side file and its chunk). A chunk with side
  files but no record (written by an older mmscrl) cannot be verified and
  is treated as stale: refused, or recomputed with ``overwrite_stale``.
  Cost: one sequential read and SHA-256 of the side files per check, twice
  per run (scan, use) plus once when written; for COCO's ~17 GB float16
  cache that is tens of seconds to a few minutes (SHA-256 runs at 0.3 to
  2 GB/s per core), small next to the hours of computing it.
* **Ranks and processes.** Chunks are dealt round-robin over the
  ``torchrun`` ranks (each rank scans only its own chunks, so no two
  processes touch one file), or computed by a :class:`multiprocessing.Pool`
  whose workers die with their parent (:func:`die_with_parent`).
* **Progress.** mmengine's :class:`~mmengine.utils.ProgressBar` on rank 0,
  updated at most every ``progress_interval`` seconds so that log files of
  long runs stay small.
"""
import ctypes
import ctypes.util
import hashlib
import json
import os
import os.path as osp
import signal
import sys
import time
import zipfile
import zlib
from typing import (Callable, Dict, Iterable, List, NamedTuple, Optional,
                    Sequence)

import numpy as np

from mmscrl.utils.fileio import atomic_write

__all__ = [
    'atomic_write', 'save_npz_atomic', 'crc32_of', 'array_digest',
    'model_digest', 'StaleChunkError', 'Chunk', 'ChunkedJob', 'side_path',
    'ThrottledProgress', 'die_with_parent', 'NPZ_READ_ERRORS',
    'file_sha256', 'side_record', 'check_side_record'
]

#: what numpy raises on a damaged ``.npz``/``.npy`` (zip directory, member
#: CRC, truncated member, header, mmap of a short file)
NPZ_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zlib.error,
                   zipfile.BadZipFile)


def save_npz_atomic(path: str, **arrays) -> None:
    """:func:`numpy.savez` through :func:`atomic_write`."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def crc32_of(items: Iterable) -> int:
    """CRC32 of the newline-joined ``str`` of ``items`` (an image list, a
    row of kNN indices): a cheap identity of a list."""
    return zlib.crc32('\n'.join(map(str, items)).encode('utf-8'))


def array_digest(arrays: Iterable[np.ndarray]) -> str:
    """SHA-256 (hex, first 16 digits) of the shapes and bytes of arrays."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f'{a.dtype.str}{a.shape}'.encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def model_digest(model) -> str:
    """Content hash of a model: SHA-256 over its ``state_dict`` names,
    dtypes, shapes and values (first 16 hex digits).

    Two checkpoints with equal weights give one digest whatever their file
    layout; any changed weight or buffer gives another.
    """
    import torch
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        if t.dtype == torch.bfloat16:  # no numpy dtype; same bytes
            t = t.view(torch.int16)
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def side_path(chunk: 'Chunk', suffix: str) -> str:
    """Path of a side file of ``chunk`` (``suffix`` like ``'.npy'``)."""
    return chunk.path[:-len('.npz')] + suffix


def file_sha256(path: str, block: int = 1 << 22) -> str:
    """SHA-256 (hex) of a file's bytes, read in ``block``-byte pieces."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for piece in iter(lambda: f.read(block), b''):
            h.update(piece)
    return h.hexdigest()


def _npy_header(path: str):
    """``(shape, dtype.str)`` from an ``.npy`` header (no data read)."""
    arr = np.load(path, mmap_mode='r', allow_pickle=False)
    shape, dtype = list(arr.shape), arr.dtype.str
    del arr
    return shape, dtype


def side_record(path: str) -> dict:
    """What a chunk records about one of its side files: ``sha256`` and
    ``bytes``, plus ``shape`` and ``dtype`` for an ``.npy``.

    Args:
        path (str): the side file, as written.

    Returns:
        dict: JSON-serialisable record (see :func:`check_side_record`).
    """
    rec = dict(bytes=os.path.getsize(path), sha256=file_sha256(path))
    if path.endswith('.npy'):
        rec['shape'], rec['dtype'] = _npy_header(path)
    return rec


def check_side_record(path: str, rec: dict) -> Optional[str]:
    """Compare a side file with the record of :func:`side_record`.

    Args:
        path (str): the side file.
        rec (dict): the record stored in its chunk.

    Returns:
        str | None: what differs (a message that follows ``'<path>: '``),
        or ``None`` when the file matches the record.
    """
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return 'missing'
    if size != rec.get('bytes'):
        return (f'{size} bytes, but {rec.get("bytes")} were written '
                '(truncated or replaced)')
    if path.endswith('.npy') and 'shape' in rec:
        try:
            shape, dtype = _npy_header(path)
        except NPZ_READ_ERRORS as e:
            return f'damaged .npy header ({type(e).__name__}: {e})'
        if [shape, dtype] != [rec['shape'], rec['dtype']]:
            return (f'a {dtype} array of shape {tuple(shape)}, but a '
                    f'{rec["dtype"]} array of shape {tuple(rec["shape"])} '
                    'was written')
    digest = file_sha256(path)
    if digest != rec.get('sha256'):
        return (f'SHA-256 {digest[:16]}... differs from the '
                f'{str(rec.get("sha256"))[:16]}... recorded when it was '
                'written: the file was changed or damaged since')
    return None


class StaleChunkError(ValueError):
    """A chunk file was computed with other settings than this run."""


class Chunk(NamedTuple):
    """One unit of work: items ``[start, end)``, written to ``path``."""
    index: int
    start: int
    end: int
    path: str


_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Make this (worker) process receive ``sig`` when its parent dies.

    Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere a no-op. ``SIGTERM`` is
    turned into :class:`SystemExit`, so an atomic write in progress removes
    its temporary file. Call it first thing in a worker (a
    :class:`multiprocessing.Pool` initializer or a DataLoader
    ``worker_init_fn``).
    """
    parent = os.getppid()
    if not sys.platform.startswith('linux'):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or None,
                           use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return
    if sig == signal.SIGTERM:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), sig)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


class ThrottledProgress:
    """mmengine :class:`~mmengine.utils.ProgressBar` updated at most every
    ``interval`` seconds (and at the end).

    ``ProgressBar`` rewrites its line with ``\\r`` at every ``update``;
    in a log file that is one segment per call, so per-image updates of a
    COCO-sized job would write megabytes. This wrapper batches the updates.

    Args:
        total (int): items this process will compute.
        name (str): printed before the bar with the resumed count.
        interval (float): minimum seconds between bar updates.
        enabled (bool): show anything (rank 0 only). Defaults to True.
        resumed (int): items already done by an earlier run (printed).
            Defaults to 0.
    """

    def __init__(self, total: int, name: str, interval: float = 10.,
                 enabled: bool = True, resumed: int = 0):
        self.enabled = enabled and total > 0
        self.name, self.interval = name, interval
        self.pending, self.last = 0, time.time()
        self.bar = None
        if enabled:
            print(f'[{name}] {total} to compute, {resumed} done earlier',
                  flush=True)
        if self.enabled:
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total, file=sys.stdout)

    def update(self, n: int = 1) -> None:
        if not self.enabled:
            return
        self.pending += n
        now = time.time()
        done = self.bar.completed + self.pending >= self.bar.task_num
        if done or now - self.last >= self.interval:
            self.bar.update(self.pending)
            self.pending, self.last = 0, now
            if done:
                self.bar.file.write('\n')
                self.bar.file.flush()


def _fingerprint_json(fp: dict) -> str:
    return json.dumps(fp, sort_keys=True, default=str)


class ChunkedJob:
    """Resumable chunked computation over ``num_items`` items.

    Args:
        work_dir (str): folder of the chunk files.
        prefix (str): chunk file name prefix (``<prefix>_<start>_<end>``).
        num_items (int): N.
        chunk_size (int): items per chunk (the last one may be shorter).
        fingerprint (dict): JSON-serialisable settings that determine the
            content of every chunk (see the module docstring).
        name (str): shown in progress lines and messages. Defaults to
            ``prefix``.
        overwrite_stale (bool): recompute stale chunks instead of raising
            :class:`StaleChunkError`. Defaults to False.
        rank (int), world_size (int): this process' share of the chunks
            (round-robin). Defaults to 0 and 1.
        side_suffixes (Sequence[str]): extra files per chunk written by the
            compute function before the chunk itself (e.g. ``'.npy'`` for a
            memory-mappable array); checksummed when the chunk is
            written and verified on reuse (see the module docstring);
            deleted with a stale/corrupt chunk.
        progress_interval (float): seconds between progress updates.

    A chunk file is an ``.npz`` with the computed arrays plus
    ``chunk_fingerprint`` (JSON), ``start`` and ``end``, and with side files
    ``side_digests`` (JSON ``{suffix: {"sha256", "bytes", "shape",
    "dtype"}}``, see :func:`side_record`).
    """

    def __init__(self, work_dir: str, prefix: str, num_items: int,
                 chunk_size: int, fingerprint: Dict, name: str = None,
                 overwrite_stale: bool = False, rank: int = 0,
                 world_size: int = 1, side_suffixes: Sequence[str] = (),
                 progress_interval: float = 10.):
        if chunk_size < 1:
            raise ValueError(f'chunk size must be >= 1, got {chunk_size}')
        self.work_dir, self.prefix = work_dir, prefix
        self.name = name or prefix
        self.fingerprint = json.loads(_fingerprint_json(fingerprint))
        self.fp_json = _fingerprint_json(self.fingerprint)
        self.overwrite_stale = overwrite_stale
        self.rank, self.world_size = rank, world_size
        self.side_suffixes = tuple(side_suffixes)
        self.progress_interval = progress_interval
        self.chunks = [
            Chunk(c, s, min(s + chunk_size, num_items),
                  osp.join(work_dir, f'{prefix}_{s:09d}_'
                           f'{min(s + chunk_size, num_items):09d}.npz'))
            for c, s in enumerate(range(0, num_items, chunk_size))
        ]
        os.makedirs(work_dir, exist_ok=True)

    # ------------------------------------------------------------------
    def mine(self) -> List[Chunk]:
        """This rank's chunks."""
        return [c for c in self.chunks
                if c.index % self.world_size == self.rank]

    def _remove(self, chunk: Chunk) -> None:
        for p in [chunk.path] + [side_path(chunk, s)
                                 for s in self.side_suffixes]:
            if osp.exists(p):
                os.remove(p)

    def _diff(self, stored: dict) -> List[str]:
        keys = sorted(set(stored) | set(self.fingerprint))
        return [
            f'{k} (chunk: {stored.get(k, "<unset>")!r}, this run: '
            f'{self.fingerprint.get(k, "<unset>")!r})' for k in keys
            if stored.get(k) != self.fingerprint.get(k)
        ]

    def _stale_message(self, chunk: Chunk, diff: List[str]) -> str:
        return (f'{chunk.path}: chunk of the {self.name} pass was computed '
                f'with other settings: {"; ".join(diff)}. Rerun with '
                f'--overwrite-stale (overwrite_stale=True) to recompute the '
                f'stale chunks, or delete {self.work_dir} or use another '
                '--work-dir.')

    def _side_problem(self, chunk: Chunk,
                      records: Optional[dict]) -> Optional[str]:
        """First side file of ``chunk`` that does not match ``records``
        (the chunk's ``side_digests``), as ``'<path>: <what differs>'``;
        ``None`` when all match."""
        for suffix in self.side_suffixes:
            side = side_path(chunk, suffix)
            rec = (records or {}).get(suffix)
            if rec is None:
                return f'{side}: no checksum in {chunk.path}'
            problem = check_side_record(side, rec)
            if problem:
                return f'{side}: {problem}'
        return None

    def _unverifiable(self, chunk: Chunk) -> List[str]:
        """The stale-setting entry of a chunk whose side files carry no
        checksum (written by an older mmscrl)."""
        sides = ', '.join(osp.basename(side_path(chunk, s))
                          for s in self.side_suffixes)
        return [f'side-file checksum (the chunk has none: written by an '
                f'older mmscrl, so {sides} cannot be verified)']

    def _check_existing(self, chunk: Chunk) -> bool:
        """True if ``chunk`` exists, is readable, up to date and its side
        files match their checksums; removes a corrupt one (and a stale one
        with ``overwrite_stale``)."""
        if not osp.exists(chunk.path):
            return False
        try:
            with np.load(chunk.path, allow_pickle=False) as z:
                stored = json.loads(str(z['chunk_fingerprint'])) \
                    if 'chunk_fingerprint' in z.files else None
                sides = json.loads(str(z['side_digests'])) \
                    if 'side_digests' in z.files else None
                span = (int(z['start']), int(z['end']))
        except NPZ_READ_ERRORS + (json.JSONDecodeError, ) as e:
            self._recompute_corrupt(chunk, f'{chunk.path}: corrupt or '
                                    f'truncated chunk ({type(e).__name__}: '
                                    f'{e})')
            return False
        diff = ['fingerprint (the chunk has none: written by an older '
                'mmscrl)'] if stored is None else self._diff(stored)
        if span != (chunk.start, chunk.end):
            diff.insert(0, f'item range (chunk: {span}, this run: '
                        f'{(chunk.start, chunk.end)})')
        if self.side_suffixes and sides is None:
            diff += self._unverifiable(chunk)
        if diff:
            if not self.overwrite_stale:
                raise StaleChunkError(self._stale_message(chunk, diff))
            print(f'[{self.name}] {chunk.path}: stale ({"; ".join(diff)}); '
                  'recomputing', flush=True)
            self._remove(chunk)
            return False
        problem = self._side_problem(chunk, sides)
        if problem:
            self._recompute_corrupt(chunk, f'{problem} (side file of '
                                    f'{chunk.path})')
            return False
        return True

    def _recompute_corrupt(self, chunk: Chunk, reason: str) -> None:
        print(f'[{self.name}] {reason}; it will be recomputed', flush=True)
        self._remove(chunk)

    def pending(self) -> List[Chunk]:
        """This rank's chunks that still have to be computed (checks every
        existing one, see :meth:`_check_existing`)."""
        return [c for c in self.mine() if not self._check_existing(c)]

    def write(self, chunk: Chunk, arrays: Dict[str, np.ndarray]) -> None:
        """Write ``chunk`` atomically with its fingerprint and the records
        of its side files (written before, by the compute function)."""
        _write_chunk(self.fp_json, chunk, arrays, self.side_suffixes)

    def read(self, chunk: Chunk) -> Dict[str, np.ndarray]:
        """All arrays of a finished chunk, after checking its fingerprint
        and its side files' checksums.

        Args:
            chunk (Chunk): one of :attr:`chunks`.

        Returns:
            dict[str, np.ndarray]: the stored arrays (``start``, ``end``
            and the computed ones; ``side_digests`` removed).

        Raises:
            ValueError: the file is missing, corrupt or truncated, or a side
                file does not match its checksum (the message names the
                files and says to delete them), or
                :class:`StaleChunkError` if its settings differ (or it has
                side files without checksums).
        """
        try:
            with np.load(chunk.path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            stored = json.loads(str(data.pop('chunk_fingerprint')))
            sides = json.loads(str(data.pop('side_digests'))) \
                if 'side_digests' in data else None
            span = (int(data['start']), int(data['end']))
        except FileNotFoundError:
            raise ValueError(
                f'{chunk.path}: chunk of the {self.name} pass is missing '
                '(another process still running, or deleted); rerun the '
                'same command to compute it') from None
        except NPZ_READ_ERRORS + (json.JSONDecodeError, ) as e:
            raise ValueError(
                f'{chunk.path}: corrupt or truncated chunk of the '
                f'{self.name} pass ({type(e).__name__}: {e}); delete this '
                'file and rerun the same command, it will be recomputed'
            ) from None
        diff = self._diff(stored)
        if span != (chunk.start, chunk.end):
            diff.insert(0, f'item range (chunk: {span}, this run: '
                        f'{(chunk.start, chunk.end)})')
        if self.side_suffixes and sides is None:
            diff += self._unverifiable(chunk)
        if diff:
            raise StaleChunkError(self._stale_message(chunk, diff))
        problem = self._side_problem(chunk, sides)
        if problem:
            raise ValueError(
                f'{problem} (side file of {chunk.path} in the {self.name} '
                f'pass); delete both files and rerun the same command, they '
                'will be recomputed')
        return data

    def run(self, compute: Callable, pool=None,
            chunk_args: Optional[Callable] = None, unit: int = 1) -> int:
        """Compute and write this rank's pending chunks.

        Args:
            compute (Callable): ``compute(chunk, progress, *args) -> dict``
                of arrays to store (it may write side files first, see
                :func:`side_path`, and may call ``progress.update(n)`` per
                item). With ``pool`` it must be picklable and gets
                ``progress=None``.
            pool (multiprocessing.pool.Pool, optional): compute the chunks
                in these worker processes.
            chunk_args (Callable, optional): ``chunk -> tuple`` of extra
                arguments of ``compute`` (e.g. the chunk's image names, so
                that a pool task does not carry the whole list).
            unit (int): progress units per item. Defaults to 1.

        Returns:
            int: the number of items computed by this call.
        """
        todo = self.pending()
        n_todo = sum(c.end - c.start for c in todo)
        n_mine = sum(c.end - c.start for c in self.mine())
        prog = ThrottledProgress(n_todo * unit, self.name,
                                 self.progress_interval, self.rank == 0,
                                 (n_mine - n_todo) * unit)
        args = chunk_args or (lambda c: ())
        if pool is None:
            for c in todo:
                self.write(c, compute(c, prog, *args(c)))
        else:
            tasks = [(self.fp_json, compute, c, args(c),
                      self.side_suffixes) for c in todo]
            for n in pool.imap_unordered(_pool_task, tasks):
                prog.update(n * unit)
        return n_todo


def _write_chunk(fp_json: str, chunk: Chunk, arrays: dict,
                 side_suffixes: Sequence[str] = ()) -> None:
    """Write a chunk: ``arrays``, the fingerprint, the item range and (with
    side files) ``side_digests``, the JSON ``{suffix: side_record}`` of the
    side files as they are on disk now."""
    extra = {}
    if side_suffixes:
        extra['side_digests'] = np.asarray(json.dumps(
            {s: side_record(side_path(chunk, s)) for s in side_suffixes}))
    save_npz_atomic(chunk.path, chunk_fingerprint=np.asarray(fp_json),
                    start=np.asarray(chunk.start), end=np.asarray(chunk.end),
                    **extra, **arrays)


def _pool_task(task) -> int:
    fp_json, compute, chunk, args, side_suffixes = task
    _write_chunk(fp_json, chunk, compute(chunk, None, *args), side_suffixes)
    return chunk.end - chunk.start
