# Copyright (c) mmscrl contributors. All rights reserved.
"""Small helpers shared by the ORL stage-2 tools: canonical image lists,
resumable chunk files and progress lines."""
import json
import os
import os.path as osp
import sys
import time
from typing import List, Optional, Tuple

import numpy as np

from .io import atomic_write

__all__ = [
    'read_image_list', 'chunk_ranges', 'chunk_path', 'save_npz_atomic',
    'Progress', 'IMG_EXTENSIONS'
]

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def read_image_list(data_root: str,
                    ann_file: Optional[str] = None,
                    img_list: Optional[str] = None) -> List[str]:
    """The canonical image order (paths relative to ``data_root``).

    Spec ``orl.md`` §4: every stage-2 file is indexed by position, in the
    order of ``instances_train2017.json['images']``. Exactly one source is
    used, by priority:

    * ``ann_file``: a COCO-style json; its ``images[*].file_name`` order;
    * ``img_list``: a text file, one relative path per line (the official
      ``train2017.txt``), blank lines ignored;
    * otherwise: all image files under ``data_root``, recursively, sorted.
    """
    if ann_file:
        with open(ann_file) as f:
            data = json.load(f)
        images = data.get('images') if isinstance(data, dict) else None
        if not isinstance(images, list):
            raise ValueError(f'{ann_file}: missing list "images"')
        names = []
        for i, im in enumerate(images):
            if not isinstance(im, dict) or 'file_name' not in im:
                raise ValueError(f'{ann_file}: images[{i}] has no '
                                 '"file_name"')
            names.append(str(im['file_name']))
    elif img_list:
        with open(img_list) as f:
            names = [ln.strip() for ln in f if ln.strip()]
    else:
        names = []
        for root, _, files in os.walk(data_root):
            for fn in files:
                if fn.lower().endswith(IMG_EXTENSIONS):
                    names.append(
                        osp.relpath(osp.join(root, fn), data_root).replace(
                            os.sep, '/'))
        names.sort()
    if not names:
        raise ValueError(f'no images found (data_root={data_root!r}, '
                         f'ann_file={ann_file!r}, img_list={img_list!r})')
    return names


def chunk_ranges(n: int, size: int) -> List[Tuple[int, int]]:
    """Contiguous ``[start, end)`` ranges of at most ``size`` items."""
    if size < 1:
        raise ValueError(f'chunk size must be >= 1, got {size}')
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def chunk_path(folder: str, prefix: str, start: int, end: int,
               ext: str = '.npz') -> str:
    return osp.join(folder, f'{prefix}_{start:09d}_{end:09d}{ext}')


def save_npz_atomic(path: str, **arrays) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


class Progress:
    """Periodic progress lines (``name: done/total, rate, eta``) on stdout.

    Args:
        total (int): number of items.
        name (str): prefix of each line.
        interval (float): minimum seconds between lines. Defaults to 10.
        enabled (bool): print at all (e.g. only on rank 0). Defaults to True.
        done (int): items already done (resumed). Defaults to 0.
    """

    def __init__(self, total: int, name: str, interval: float = 10.,
                 enabled: bool = True, done: int = 0):
        self.total, self.name, self.interval = total, name, interval
        self.enabled = enabled
        self.done = self.start_done = done
        self.t0 = self.last = time.time()
        if enabled:
            self._print(force=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and (time.time() - self.last >= self.interval
                             or self.done >= self.total):
            self._print()

    def _print(self, force: bool = False) -> None:
        self.last = time.time()
        el = self.last - self.t0
        rate = (self.done - self.start_done) / el if el > 0 else 0.
        eta = (self.total - self.done) / rate if rate > 0 else float('nan')
        print(f'[{self.name}] {self.done}/{self.total} '
              f'({rate:.2f}/s, elapsed {el:.0f}s, eta {eta:.0f}s)',
              file=sys.stdout, flush=True)
