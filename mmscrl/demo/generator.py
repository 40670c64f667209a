# Copyright (c) mmscrl contributors. All rights reserved.
"""Synthetic multi-object scenes with COCO instance annotations.

The demo data set lets every method of mmscrl run end to end without a
download: textured objects of a few classes are pasted onto textured
backgrounds at varied scales, with partial occlusion. Each image is rendered
from its own random generator, seeded by ``(seed, split, index)``, so the
output is bit-identical for a given set of arguments, whatever the order or
number of images generated.

Two versions of the rendering can be generated (``version``, recorded in
``meta.json``, the marker and the COCO ``info``; see
:data:`GENERATOR_VERSIONS`):

- **2**: each class has its own hue range, so both shape and colour tell
  the class; backgrounds are muted (low saturation).
- **3** (the default since Dec 2026): colour-free classes. A class is defined by its shape only; every
  object's hue is drawn from the full hue range independently of its class,
  and backgrounds take any hue and a saturation overlapping the objects'
  (not only muted ones), so colour is a nuisance, as in photographs, and
  telling the class by colour alone is at chance
  (:mod:`mmscrl.demo.colour_probe` measures it). Textures (stripes,
  checker, dots, blotches), scales, occlusion, the number of objects and
  the file layout are those of version 2.

Version 2 output is unchanged by the addition of version 3: for the same
arguments it draws the same random numbers in the same order.

Layout written by :func:`generate_demo_dataset` (``out_dir`` e.g.
``data/demo/``)::

    unlabeled/000000.jpg ...                 pre-training images
    train/000000.jpg ..., val/000000.jpg ... labeled transfer split
    annotations/instances_{train,val}.json   COCO instances (bbox + RLE mask)
    annotations/instances_unlabeled.json     COCO image list, no annotations
    semantic/{train,val}/000000.png ...      semantic maps (0 = background,
                                             k = category id k), mmseg style
    meta.json                                generation arguments + version
    .mmscrl_demo_data                        marker: written by this module

The marker records every file of the set with its size and SHA-256
(:mod:`mmscrl.demo.ownership`). It is written first, marked incomplete,
inside a temporary sibling folder (``.demo_tmp_<name>.*``), and rewritten
with the file list last, before the folder is renamed into place, so a
folder holding a complete marker is a complete data set written by
:func:`generate_demo_dataset`. An existing ``out_dir`` is replaced only if
it is empty or is such a data set holding nothing but the recorded files,
unchanged; anything else (a file of the user's, even one named like the
generator's images, a file the generator wrote and the user replaced, a set
of an older mmscrl whose marker lists no files) is refused with
:class:`DemoDataDirError` naming the entries, so no file that this module
did not write is ever deleted.

One generator at a time works on an ``out_dir``: it holds an exclusive
``fcntl.flock`` lock (``.<name>.mmscrl_demo_lock`` next to ``out_dir``,
holding its pid) for the whole run; a second one waits (saying for which
pid) or, past its ``lock_timeout``, refuses naming that pid. The kernel
releases the lock of a killed generator. Under the lock, the generator
first removes the ``.demo_tmp_<name>.*`` / ``.demo_old_<name>.*`` folders a
killed run of its own left next to ``out_dir`` (recognised by their name
and the marker inside; anything else found there is kept and reported).

Annotations describe the *visible* part of each object: ``segmentation`` is
the compressed RLE of the visible mask and ``bbox`` ([x, y, w, h], COCO
convention) its tight box, so masks and boxes agree exactly. An object is
placed only if every object it covers keeps at least
``min_visible_fraction`` of its area visible.
"""
import errno
import json
import os
import os.path as osp
import re
import shutil
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmscrl.utils.fileio import atomic_write_json
from .lock import demo_lock
from .ownership import file_record, find_foreign, remove_recorded

#: Default generator version (3: colour-free classes; see the module
#: docstring).
GENERATOR_VERSION = 3
#: Versions :func:`generate_demo_dataset` can write, with what sets them
#: apart (version 1, before semantic maps, is no longer generated).
GENERATOR_VERSIONS: Dict[int, str] = {
    2: 'each class has its own hue range; muted backgrounds',
    3: 'colour-free classes: shape only, hues of objects and backgrounds '
    'drawn independently of the class',
}

#: Class names, in category-id order (ids start at 1).
CLASSES: Tuple[str, ...] = ('disk', 'square', 'triangle', 'star', 'cross')

SPLITS = ('unlabeled', 'train', 'val')
#: Marker file of a complete demo data set written by this module.
MARKER = '.mmscrl_demo_data'
_MARKER_TAG = 'mmscrl.demo.generator'
#: Relative paths the generator writes (used only to recognise the
#: temporary folder of a killed run; a finished set lists its files).
_LAYOUT = re.compile(
    r'\.mmscrl_demo_data|meta\.json|annotations|semantic|'
    r'(unlabeled|train|val)(/\d{6}\.jpg)?|'
    r'annotations/instances_(unlabeled|train|val)\.json|'
    r'semantic/(train|val)(/\d{6}\.png)?|'
    r'([^/]+/)*\.[^/]+\.\d+\.part')
_SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}

# Version 2: each class has its own hue range, so both shape and colour
# identify it; the texture (stripes, checker, dots, noise) is drawn
# independently. Version 3 draws every hue from [0, 180) (OpenCV's range).
_CLASS_HUES = {
    'disk': (0, 20),
    'square': (35, 60),
    'triangle': (75, 100),
    'star': (110, 135),
    'cross': (145, 175),
}


def _smooth_noise(rng: np.random.Generator, size: int, cells: int,
                  channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a random grid upsampled bicubically."""
    grid = rng.random((cells, cells, channels)).astype(np.float32)
    out = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    if out.ndim == 2:
        out = out[..., None]
    return np.clip(out, 0., 1.)


def _hsv_color(hue: float, sat: float, val: float) -> np.ndarray:
    """One RGB colour (float32, 0-255) from OpenCV HSV (hue in [0, 180))."""
    hsv = np.array([[[hue, sat, val]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _texture(rng: np.random.Generator, size: int, color_a: np.ndarray,
             color_b: np.ndarray) -> np.ndarray:
    """A (size, size, 3) float32 texture mixing two colours."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:  # stripes at a random angle and period
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(4, 12)
        t = np.cos(theta) * xx + np.sin(theta) * yy
        w = (np.sin(2 * np.pi * t / period) > 0).astype(np.float32)
    elif kind == 1:  # checkerboard
        period = rng.uniform(4, 12)
        w = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(
            np.float32)
    elif kind == 2:  # dots on a regular lattice
        period = rng.uniform(5, 11)
        r = period * rng.uniform(0.2, 0.4)
        dx = (xx % period) - period / 2
        dy = (yy % period) - period / 2
        w = (dx * dx + dy * dy < r * r).astype(np.float32)
    else:  # smooth blotches
        w = _smooth_noise(rng, size, int(rng.integers(4, 9)))[..., 0]
        w = (w > 0.5).astype(np.float32) * 0.7 + w * 0.3
    w = w[..., None]
    return color_a * (1 - w) + color_b * w


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured, low-saturation background (float32 RGB)."""
    base = _smooth_noise(rng, size, int(rng.integers(2, 5)), 3)
    base = 60 + 120 * base
    base = 0.4 * base + 0.6 * base.mean(axis=2, keepdims=True)  # muted
    detail = _smooth_noise(rng, size, int(rng.integers(12, 24)), 1)
    bg = base * (0.75 + 0.5 * detail)
    if rng.random() < 0.5:  # faint lines (floor boards, tiles...)
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(10, 24)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        t = np.cos(theta) * xx + np.sin(theta) * yy
        lines = (np.abs(np.sin(np.pi * t / period)) < 0.12).astype(np.float32)
        bg = bg * (1 - 0.25 * lines[..., None])
    return bg


def _background_v3(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured background of any hue (float32 RGB), version 3.

    Two colours of nearby hues (the hue uniform over the full range, the
    second within 30 of it), each with a saturation in [0, 200) -- which
    overlaps the objects' -- and a value in [70, 210), blended by
    low-frequency noise, then the detail noise and faint lines of
    :func:`_background`, so neither hue nor saturation tells object from
    background.
    """
    hue = rng.uniform(0, 180)
    hue2 = (hue + rng.uniform(-30, 30)) % 180
    col_a = _hsv_color(hue, rng.uniform(0, 200), rng.uniform(70, 210))
    col_b = _hsv_color(hue2, rng.uniform(0, 200), rng.uniform(70, 210))
    w = _smooth_noise(rng, size, int(rng.integers(2, 5)))
    base = col_a * (1 - w) + col_b * w
    detail = _smooth_noise(rng, size, int(rng.integers(12, 24)), 1)
    bg = base * (0.75 + 0.5 * detail)
    if rng.random() < 0.5:  # faint lines (floor boards, tiles...)
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(10, 24)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        t = np.cos(theta) * xx + np.sin(theta) * yy
        lines = (np.abs(np.sin(np.pi * t / period)) < 0.12).astype(np.float32)
        bg = bg * (1 - 0.25 * lines[..., None])
    return bg


def _shape_mask(rng: np.random.Generator, cls: str, size: int, cx: float,
                cy: float, radius: float) -> np.ndarray:
    """Binary (size, size) uint8 mask of one shape centred at (cx, cy)."""
    mask = np.zeros((size, size), np.uint8)
    angle = rng.uniform(0, 2 * np.pi)
    shift = 4  # sub-pixel precision for cv2 drawing
    scale = 1 << shift

    def poly(radii: Sequence[float], n: int) -> np.ndarray:
        a = angle + np.arange(n) * 2 * np.pi / n
        r = np.asarray(radii, np.float64)
        pts = np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1)
        return np.round(pts * scale).astype(np.int32)

    if cls == 'disk':
        ry = radius * rng.uniform(0.75, 1.0)
        cv2.ellipse(mask, (int(round(cx * scale)), int(round(cy * scale))),
                    (int(round(radius * scale)), int(round(ry * scale))),
                    float(np.degrees(angle)), 0, 360, 1, -1, cv2.LINE_8,
                    shift)
    elif cls == 'square':
        cv2.fillPoly(mask, [poly([radius] * 4, 4)], 1, cv2.LINE_8, shift)
    elif cls == 'triangle':
        cv2.fillPoly(mask, [poly([radius] * 3, 3)], 1, cv2.LINE_8, shift)
    elif cls == 'star':
        radii = [radius if i % 2 == 0 else radius * 0.45 for i in range(10)]
        cv2.fillPoly(mask, [poly(radii, 10)], 1, cv2.LINE_8, shift)
    elif cls == 'cross':
        t = radius * 0.38
        base = np.array([[-t, -radius], [t, -radius], [t, -t], [radius, -t],
                         [radius, t], [t, t], [t, radius], [-t, radius],
                         [-t, t], [-radius, t], [-radius, -t], [-t, -t]])
        c, s = np.cos(angle), np.sin(angle)
        pts = base @ np.array([[c, s], [-s, c]]) + np.array([cx, cy])
        cv2.fillPoly(mask, [np.round(pts * scale).astype(np.int32)], 1,
                     cv2.LINE_8, shift)
    else:
        raise ValueError(f'unknown demo class {cls!r}; known: {CLASSES}')
    return mask


def render_scene(rng: np.random.Generator,
                 img_size: int,
                 max_objects: int = 5,
                 min_objects: int = 1,
                 scale_range: Tuple[float, float] = (0.1, 0.3),
                 min_visible_fraction: float = 0.5,
                 min_area: int = 36,
                 version: int = GENERATOR_VERSION
                 ) -> Tuple[np.ndarray, List[Dict]]:
    """Render one scene.

    Args:
        rng (np.random.Generator): Source of randomness.
        img_size (int): Side of the square image in pixels.
        max_objects (int): Upper bound of objects per image. Defaults to 5.
        min_objects (int): Lower bound of attempted objects. Defaults to 1.
        scale_range (tuple[float, float]): Object radius as a fraction of
            ``img_size``. Defaults to (0.1, 0.3).
        min_visible_fraction (float): Every object keeps at least this
            fraction of its area visible. Defaults to 0.5.
        min_area (int): Smallest visible area in pixels. Defaults to 36.
        version (int): Generator version, 2 (class hues) or 3 (colours
            independent of the class); see the module docstring. Defaults
            to :data:`GENERATOR_VERSION` (3).

    Returns:
        tuple: ``img`` (H, W, 3) uint8 RGB and a list of objects, each a dict
        with ``category_id`` (1-based), ``mask`` (H, W) bool of the visible
        part, in drawing order.
    """
    _check_version(version)
    canvas = (_background if version == 2 else _background_v3)(rng, img_size)
    n_target = int(rng.integers(min_objects, max_objects + 1))
    full_masks: List[np.ndarray] = []
    visible: List[np.ndarray] = []
    cats: List[int] = []
    for _ in range(n_target):
        for _try in range(20):
            cat = int(rng.integers(len(CLASSES)))
            radius = img_size * rng.uniform(*scale_range)
            cx = rng.uniform(0.1, 0.9) * img_size
            cy = rng.uniform(0.1, 0.9) * img_size
            mask = _shape_mask(rng, CLASSES[cat], img_size, cx, cy,
                               radius).astype(bool)
            area = int(mask.sum())
            if area < max(min_area, 1):
                continue
            # the new object lies on top: it must not hide too much of the
            # objects below it
            ok = all((vis & ~mask).sum() >= min_visible_fraction * full.sum()
                     and (vis & ~mask).sum() >= min_area
                     for vis, full in zip(visible, full_masks))
            if not ok:
                continue
            visible = [vis & ~mask for vis in visible]
            visible.append(mask)
            full_masks.append(mask)
            cats.append(cat)
            # version 3: the hue says nothing about the class
            lo, hi = _CLASS_HUES[CLASSES[cat]] if version == 2 else (0, 180)
            hue = rng.uniform(lo, hi)
            col_a = _hsv_color(hue, rng.uniform(150, 255),
                               rng.uniform(150, 255))
            col_b = _hsv_color(hue, rng.uniform(60, 200),
                               rng.uniform(40, 130))
            tex = _texture(rng, img_size, col_a, col_b)
            # soft shading across the object
            shade = 0.8 + 0.4 * _smooth_noise(rng, img_size, 3)
            canvas[mask] = (tex * shade)[mask]
            break
    canvas += rng.normal(0, 4, canvas.shape).astype(np.float32)
    img = np.clip(canvas, 0, 255).astype(np.uint8)
    objects = [
        dict(category_id=c + 1, mask=m) for c, m in zip(cats, visible)
        if m.any()
    ]
    return img, objects


def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """Tight COCO box [x, y, w, h] of a non-empty binary mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError('mask_to_bbox: empty mask')
    x0, x1 = int(xs.min()), int(xs.max())
    y0, y1 = int(ys.min()), int(ys.max())
    return [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)]


def semantic_map(objects: Sequence[Dict], img_size: int) -> np.ndarray:
    """Semantic segmentation map of a scene from :func:`render_scene`.

    Args:
        objects (Sequence[dict]): The objects returned by
            :func:`render_scene` (``category_id``, visible ``mask``).
        img_size (int): Side of the square image in pixels.

    Returns:
        np.ndarray: (img_size, img_size) uint8 map, 0 for background and
        ``category_id`` (1..len(CLASSES)) on each object's visible pixels.
        Visible masks do not overlap, so the map is exact.
    """
    seg = np.zeros((img_size, img_size), np.uint8)
    for obj in objects:
        mask = np.asarray(obj['mask'], bool)
        if mask.shape != seg.shape:
            raise ValueError(f'semantic_map: mask of shape {mask.shape} in '
                             f'an image of side {img_size}')
        seg[mask] = int(obj['category_id'])
    return seg


def _encode_rle(mask: np.ndarray) -> Dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _meta(num_unlabeled, num_train, num_val, img_size, seed, max_objects,
          version=GENERATOR_VERSION):
    return dict(
        version=int(version),
        num_unlabeled=int(num_unlabeled),
        num_train=int(num_train),
        num_val=int(num_val),
        img_size=int(img_size),
        seed=int(seed),
        max_objects=int(max_objects),
        classes=list(CLASSES))


#: Defaults of the data set arguments of :func:`generate_demo_dataset`.
_DEFAULT_ARGS = dict(num_unlabeled=1000, num_train=400, num_val=100,
                     img_size=128, seed=0, max_objects=5,
                     version=GENERATOR_VERSION)


def demo_paths(out_dir: str) -> Dict[str, str]:
    """Paths of the folders and annotation files of a demo data set."""
    root = osp.abspath(out_dir)
    ann = osp.join(root, 'annotations')
    return dict(
        root=root,
        unlabeled=osp.join(root, 'unlabeled'),
        train=osp.join(root, 'train'),
        val=osp.join(root, 'val'),
        ann_unlabeled=osp.join(ann, 'instances_unlabeled.json'),
        ann_train=osp.join(ann, 'instances_train.json'),
        ann_val=osp.join(ann, 'instances_val.json'),
        semantic_train=osp.join(root, 'semantic', 'train'),
        semantic_val=osp.join(root, 'semantic', 'val'))


def dataset_is_complete(out_dir: str, **kwargs) -> bool:
    """Whether ``out_dir`` holds a finished data set made with ``kwargs``.

    ``kwargs`` are the arguments of :func:`generate_demo_dataset` (without
    ``out_dir``/``verbose``); defaults are filled in. A data set of another
    ``version`` (or of any other argument) is not the one asked for.
    """
    path = osp.join(out_dir, 'meta.json')
    if not osp.isfile(path) or _read_marker(out_dir) is None:
        return False
    args = dict(_DEFAULT_ARGS)
    args.update(kwargs)
    with open(path) as f:
        meta = json.load(f)
    return meta == _meta(**args)


class DemoDataDirError(FileExistsError):
    """``out_dir`` exists and is not a demo data set that may be replaced."""


def _read_marker(out_dir: str, complete: bool = True) -> Optional[Dict]:
    """The marker's content, or None when ``out_dir`` has no valid marker.

    Args:
        out_dir (str): A data set folder (or a temporary one).
        complete (bool): Only a marker of a finished data set counts (a
            marker without ``complete``, of an older mmscrl, is one).
            Defaults to True.
    """
    try:
        with open(osp.join(out_dir, MARKER)) as f:
            rec = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get('written_by') != _MARKER_TAG:
        return None
    if complete and not rec.get('complete', True):
        return None
    return rec


def _lock_path(out_dir: str) -> str:
    """The generator's lock file of ``out_dir`` (next to it: ``out_dir``
    itself is replaced by a rename)."""
    parent, name = osp.split(osp.abspath(out_dir))
    return osp.join(parent, f'.{name}.mmscrl_demo_lock')


def check_replaceable(out_dir: str) -> bool:
    """Check that writing a demo data set to ``out_dir`` loses no data.

    Args:
        out_dir (str): Destination folder of :func:`generate_demo_dataset`.

    Returns:
        bool: True if ``out_dir`` exists (empty, or a demo data set of this
        module that may be replaced), False if it does not exist.

    Raises:
        DemoDataDirError: ``out_dir`` is a file, a non-empty folder without
            the :data:`MARKER` of a demo data set, a data set whose marker
            lists no files (older mmscrl), or a data set that also holds
            entries this module did not write or that changed since it
            wrote them (they are named).
    """
    if not osp.lexists(out_dir):
        return False
    if not osp.isdir(out_dir) or osp.islink(out_dir):
        raise DemoDataDirError(
            f'demo data: {out_dir} exists and is not a folder; choose '
            'another --out-dir/--data-root')
    if not os.listdir(out_dir):
        return True
    rec = _read_marker(out_dir)
    if rec is None:
        raise DemoDataDirError(
            f'demo data: {out_dir} is a non-empty folder that is not a demo '
            f'data set written by mmscrl (no valid {MARKER} file); refusing '
            'to replace it. Choose an empty or new folder, or delete it '
            'yourself.')
    if not isinstance(rec.get('files'), dict):
        raise DemoDataDirError(
            f'demo data: {out_dir} was written by an older mmscrl whose '
            f'{MARKER} records no file list, so its own files cannot be '
            'told from yours; refusing to replace it (it is reused only '
            'with its own arguments). Delete it yourself once you have '
            'moved out anything of yours, or choose another folder.')
    foreign = find_foreign(out_dir, rec['files'], rec.get('dirs', ()),
                           (MARKER, ))
    if foreign:
        shown = '; '.join(foreign[:8]) + (' ...' if len(foreign) > 8 else '')
        raise DemoDataDirError(
            f'demo data: {out_dir} holds {len(foreign)} entr'
            f'{"y" if len(foreign) == 1 else "ies"} that mmscrl did not '
            f'write or that changed since it wrote them: {shown}. Refusing '
            'to replace it; nothing was deleted. Move them out of the '
            'folder (or choose another --out-dir/--data-root), then run '
            'again.')
    return True


def _leftover_problem(path: str, kind: str, out_dir: str) -> Optional[str]:
    """Why the leftover folder ``path`` may not be removed, or None."""
    entries = os.listdir(path)
    if not entries:
        return None
    if kind == 'old':  # the previous data set, moved aside: ``d/``
        sub = osp.join(path, 'd')
        rec = _read_marker(sub)
        if entries != ['d'] or rec is None or \
                not isinstance(rec.get('files'), dict):
            return 'not a data set moved aside by the generator'
        foreign = find_foreign(sub, rec['files'], rec.get('dirs', ()),
                               (MARKER, ))
        return f'holds {foreign[0]}' if foreign else None
    rec = _read_marker(path, complete=False)
    # a finished one names no folder; the name of ``path`` does
    if rec is None or rec.get('out_dir', out_dir) != out_dir:
        return f'no {MARKER} of the generator for {out_dir} inside'
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = osp.join(dirpath, name)
            rel = osp.relpath(full, path)
            if osp.islink(full) or not _LAYOUT.fullmatch(rel):
                return f'holds {full}, which the generator does not write'
    return None


def _remove_leftovers(out_dir: str,
                      log: Callable[[str], None] = print) -> Dict:
    """Remove what killed runs of the generator left next to ``out_dir``.

    Call with the lock of ``out_dir`` held: then no generator is writing
    the ``.demo_tmp_<name>.*`` / ``.demo_old_<name>.*`` folders of
    ``out_dir``. Such a folder is removed if it holds nothing but what the
    generator writes (a temporary folder: its marker names ``out_dir``; a
    set moved aside: its recorded files, unchanged). Every other
    ``.demo_tmp_*``/``.demo_old_*`` folder there is kept and reported.

    Returns:
        dict: ``removed`` and ``kept`` (``'<path> (<reason>)'``) lists.
    """
    parent, name = osp.split(out_dir)
    ours = re.compile(r'\.demo_(tmp|old)_' + re.escape(name) +
                      r'\.[A-Za-z0-9_]+')
    removed, kept = [], []
    for entry in sorted(os.listdir(parent)) if osp.isdir(parent) else []:
        if not entry.startswith(('.demo_tmp_', '.demo_old_')):
            continue
        path = osp.join(parent, entry)
        m = ours.fullmatch(entry)
        if m is None or osp.islink(path) or not osp.isdir(path):
            kept.append(f'{path} (not a leftover of the generator for '
                        f'{out_dir})')
            continue
        problem = _leftover_problem(path, m.group(1), out_dir)
        if problem:
            kept.append(f'{path} ({problem})')
            continue
        if m.group(1) == 'old' and os.listdir(path):
            sub = osp.join(path, 'd')
            rec = _read_marker(sub)
            left = remove_recorded(sub, rec['files'], rec.get('dirs', ()),
                                   (MARKER, ))
            if left:
                kept.append(f'{path} (holds {left[0]})')
                continue
            os.remove(osp.join(sub, MARKER))
            os.rmdir(sub)
            os.rmdir(path)
        else:  # verified above: only the generator's own files
            shutil.rmtree(path)
        removed.append(path)
    if removed:
        log(f'[demo data] removed {len(removed)} folder(s) left by an '
            'interrupted generator: ' + ', '.join(removed))
    if kept:
        log(f'[demo data] kept {len(kept)} hidden folder(s) next to '
            f'{out_dir} that are not leftovers of this generator (or are '
            'in use): ' + '; '.join(kept))
    return dict(removed=removed, kept=kept)


def _record_tree(root: str) -> Tuple[Dict[str, Dict], List[str]]:
    """``({rel: file_record}, [rel dirs])`` of everything under ``root``
    but the marker."""
    files, dirs = {}, []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            dirs.append(osp.relpath(osp.join(dirpath, name), root))
        for name in filenames:
            rel = osp.relpath(osp.join(dirpath, name), root)
            if rel != MARKER:
                files[rel] = file_record(osp.join(dirpath, name))
    return files, sorted(dirs)


def _check_version(version) -> None:
    """Refuse a generator version this module cannot write."""
    if isinstance(version, bool) or \
            not isinstance(version, (int, np.integer)) or \
            int(version) not in GENERATOR_VERSIONS:
        raise ValueError(f'version must be one of '
                         f'{tuple(GENERATOR_VERSIONS)}, got {version!r}')


def _check_arguments(num_unlabeled, num_train, num_val, img_size,
                     max_objects, version=GENERATOR_VERSION) -> None:
    for name, val in (('num_unlabeled', num_unlabeled),
                      ('num_train', num_train), ('num_val', num_val)):
        if int(val) < 0:
            raise ValueError(f'{name} must be >= 0, got {val}')
    if int(img_size) < 32:
        raise ValueError(f'img_size must be >= 32, got {img_size}')
    if int(max_objects) < 1:
        raise ValueError(f'max_objects must be >= 1, got {max_objects}')
    _check_version(version)


def _render_into(tmp_root, num_unlabeled, num_train, num_val, img_size, seed,
                 max_objects, verbose, version=GENERATOR_VERSION) -> None:
    """Write every image, map and annotation file into ``tmp_root``."""
    os.makedirs(osp.join(tmp_root, 'annotations'))
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(CLASSES)
    ]
    counts = dict(unlabeled=num_unlabeled, train=num_train, val=num_val)
    total = sum(counts.values())
    done = 0
    for split in SPLITS:
        os.makedirs(osp.join(tmp_root, split))
        images, anns = [], []
        for idx in range(int(counts[split])):
            rng = np.random.default_rng([seed, _SPLIT_IDS[split], idx])
            img, objects = render_scene(
                rng, img_size, max_objects=max_objects, version=version)
            file_name = f'{idx:06d}.jpg'
            ok = cv2.imwrite(
                osp.join(tmp_root, split, file_name),
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise OSError(f'could not write {split}/{file_name}')
            image_id = idx + 1
            images.append(
                dict(id=image_id, file_name=file_name, width=img_size,
                     height=img_size))
            if split != 'unlabeled':
                seg_dir = osp.join(tmp_root, 'semantic', split)
                os.makedirs(seg_dir, exist_ok=True)
                if not cv2.imwrite(
                        osp.join(seg_dir, f'{idx:06d}.png'),
                        semantic_map(objects, img_size)):
                    raise OSError(f'could not write semantic/{split}/'
                                  f'{idx:06d}.png')
                for obj in objects:
                    anns.append(
                        dict(
                            id=len(anns) + 1,
                            image_id=image_id,
                            category_id=obj['category_id'],
                            bbox=mask_to_bbox(obj['mask']),
                            area=float(obj['mask'].sum()),
                            segmentation=_encode_rle(obj['mask']),
                            iscrowd=0))
            done += 1
            if verbose and (done % 200 == 0 or done == total):
                print(f'[demo data] {done}/{total} images', flush=True)
        coco = dict(
            info=dict(
                description='mmscrl synthetic demo data '
                f'({split})', version=str(version)),
            licenses=[],
            images=images,
            annotations=anns,
            categories=categories)
        atomic_write_json(
            osp.join(tmp_root, 'annotations', f'instances_{split}.json'),
            coco)
    atomic_write_json(
        osp.join(tmp_root, 'meta.json'),
        _meta(num_unlabeled, num_train, num_val, img_size, seed,
              max_objects, version))


def _replace_with(tmp_root: str, out_dir: str) -> None:
    """Move the finished ``tmp_root`` into place; the data set it replaces
    (checked by :func:`check_replaceable`) loses only its recorded files."""
    parent, name = osp.split(out_dir)
    if not check_replaceable(out_dir):  # re-checked: it may have changed
        os.replace(tmp_root, out_dir)
        return
    if not os.listdir(out_dir):
        os.replace(tmp_root, out_dir)  # fails if a file appeared meanwhile
        return
    old = tempfile.mkdtemp(prefix=f'.demo_old_{name}.', dir=parent)
    os.replace(out_dir, osp.join(old, 'd'))
    os.replace(tmp_root, out_dir)
    sub = osp.join(old, 'd')
    rec = _read_marker(sub)
    left = remove_recorded(sub, rec['files'], rec.get('dirs', ()),
                           (MARKER, ))
    if left:
        print(f'[demo data] WARNING: {len(left)} entr'
              f'{"y" if len(left) == 1 else "ies"} appeared in the previous '
              f'data set while it was replaced; they are kept in {sub}: '
              + '; '.join(left[:8]), file=sys.stderr, flush=True)
        return
    os.remove(osp.join(sub, MARKER))
    os.rmdir(sub)
    os.rmdir(old)


def _generate_locked(out_dir: str, num_unlabeled: int, num_train: int,
                     num_val: int, img_size: int, seed: int,
                     max_objects: int, verbose: bool,
                     version: int = GENERATOR_VERSION) -> Dict[str, str]:
    """:func:`generate_demo_dataset` with the lock of ``out_dir`` held."""
    _remove_leftovers(out_dir)
    check_replaceable(out_dir)
    parent, name = osp.split(out_dir)
    tmp_root = tempfile.mkdtemp(prefix=f'.demo_tmp_{name}.', dir=parent)
    try:
        marker = dict(written_by=_MARKER_TAG, version=int(version),
                      complete=False, out_dir=out_dir, pid=os.getpid())
        atomic_write_json(osp.join(tmp_root, MARKER), marker)  # first
        _render_into(tmp_root, num_unlabeled, num_train, num_val, img_size,
                     seed, max_objects, verbose, version)
        files, dirs = _record_tree(tmp_root)
        atomic_write_json(  # last; no path or pid: bit-identical sets
            osp.join(tmp_root, MARKER),
            dict(written_by=_MARKER_TAG, version=int(version),
                 complete=True, files=files, dirs=dirs))
        _replace_with(tmp_root, out_dir)
    except BaseException:
        shutil.rmtree(tmp_root, ignore_errors=True)
        raise
    return demo_paths(out_dir)


def generate_demo_dataset(out_dir: str,
                          num_unlabeled: int = 1000,
                          num_train: int = 400,
                          num_val: int = 100,
                          img_size: int = 128,
                          seed: int = 0,
                          max_objects: int = 5,
                          verbose: bool = False,
                          lock_timeout: Optional[float] = None,
                          version: int = GENERATOR_VERSION
                          ) -> Dict[str, str]:
    """Write the demo data set to ``out_dir`` (see the module docstring).

    Images are JPEG (quality 95) of ``img_size`` x ``img_size`` pixels. The
    data set is rendered into a temporary sibling folder and moved into
    place at the end. An existing ``out_dir`` is replaced only if it is
    empty or a demo data set written by this module holding only its
    recorded files, unchanged (see :func:`check_replaceable`); anything
    else raises :class:`DemoDataDirError` before any work is done.

    Args:
        out_dir (str): Destination folder (e.g. ``data/demo``).
        num_unlabeled (int): Images for pre-training. Defaults to 1000.
        num_train (int): Labeled training images. Defaults to 400.
        num_val (int): Labeled validation images. Defaults to 100.
        img_size (int): Image side in pixels. Defaults to 128.
        seed (int): Base seed; image ``i`` of split ``s`` uses
            ``np.random.default_rng([seed, s, i])``. Defaults to 0.
        max_objects (int): Maximum objects per image. Defaults to 5.
        verbose (bool): Print progress. Defaults to False.
        lock_timeout (float, optional): Seconds to wait while another
            generator works on ``out_dir``; None waits until it ends.
            Defaults to None.
        version (int): Generator version (:data:`GENERATOR_VERSIONS`): 2,
            each class with its own hue range, or 3, colour-free classes
            (shape only). A data set of another version in ``out_dir`` is
            replaced under the same rules as one made with other arguments.
            Defaults to :data:`GENERATOR_VERSION` (3).

    Returns:
        dict: Paths of ``root``, ``unlabeled``/``train``/``val`` image
        folders, ``ann_train``/``ann_val``/``ann_unlabeled`` files and
        ``semantic_train``/``semantic_val`` semantic map folders.

    Raises:
        ValueError: An argument is out of range.
        DemoDataDirError: ``out_dir`` may not be replaced (see
            :func:`check_replaceable`).
        DemoBusyError: Another generator still holds ``out_dir`` after
            ``lock_timeout`` seconds (its pid is named).
    """
    _check_arguments(num_unlabeled, num_train, num_val, img_size,
                     max_objects, version)
    out_dir = osp.abspath(out_dir)
    check_replaceable(out_dir)  # before waiting for a lock
    os.makedirs(osp.dirname(out_dir), exist_ok=True)
    with demo_lock(_lock_path(out_dir), f'demo data {out_dir}',
                   timeout=lock_timeout):
        return _generate_locked(out_dir, num_unlabeled, num_train, num_val,
                                img_size, seed, max_objects, verbose,
                                int(version))


def ensure_demo_dataset(out_dir: str,
                        verbose: bool = True,
                        lock_timeout: Optional[float] = None,
                        **kwargs) -> Dict[str, str]:
    """Generate the data set unless ``out_dir`` already holds it.

    Checking and generating happen under the lock of ``out_dir``, so a
    second call made while a first one generates waits for it and then
    reuses its data set (same arguments) or replaces it. A data set of
    another ``version`` counts as one with other arguments: it is replaced
    if :func:`check_replaceable` allows, refused otherwise.

    Args:
        out_dir (str): Destination folder (e.g. ``data/demo``).
        verbose (bool): Print progress. Defaults to True.
        lock_timeout (float, optional): See :func:`generate_demo_dataset`.
        **kwargs: The other arguments of :func:`generate_demo_dataset`
            (``num_unlabeled``, ``num_train``, ``num_val``, ``img_size``,
            ``seed``, ``max_objects``, ``version``), with its defaults.

    Returns:
        dict: The paths dict of :func:`generate_demo_dataset` in both
        cases.

    Raises:
        ValueError, DemoDataDirError, DemoBusyError: As
            :func:`generate_demo_dataset`.
    """
    args = dict(_DEFAULT_ARGS)
    unknown = set(kwargs) - set(args)
    if unknown:
        raise TypeError(f'ensure_demo_dataset: unknown argument(s) '
                        f'{sorted(unknown)}; known: {sorted(args)}')
    args.update(kwargs)
    _check_arguments(args['num_unlabeled'], args['num_train'],
                     args['num_val'], args['img_size'], args['max_objects'],
                     args['version'])
    out_dir = osp.abspath(out_dir)
    os.makedirs(osp.dirname(out_dir), exist_ok=True)
    lock_path = _lock_path(out_dir)
    try:
        with demo_lock(lock_path, f'demo data {out_dir}',
                       timeout=lock_timeout):
            if dataset_is_complete(out_dir, **args):
                _remove_leftovers(out_dir)
                if verbose:
                    print(f'[demo data] reusing {out_dir}', flush=True)
                return demo_paths(out_dir)
            return _generate_locked(out_dir, verbose=verbose, **args)
    except OSError as e:  # a read-only place: a finished set is still used
        if e.filename != lock_path or \
                e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        if dataset_is_complete(out_dir, **args):
            print(f'[demo data] reusing {out_dir} (cannot create the lock '
                  f'file {lock_path}: {e.strerror}; reading only)',
                  flush=True)
            return demo_paths(out_dir)
        raise OSError(
            e.errno, f'demo data: cannot create the lock file {lock_path} '
            f'({e.strerror}); generating {out_dir} needs a writable folder '
            'around it. Choose another --data-root/--out-dir.',
            lock_path) from e
