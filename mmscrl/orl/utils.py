# Copyright (c) mmscrl contributors. All rights reserved.
"""Inputs of the ORL stage-2 tools: the canonical image list, the rules
every image name obeys and image reading with errors that name the file.

**Image names.** Every ORL file (proposals, kNN, correspondence; our npz and
the official JSON) and every image list names images by a path relative to
the data root. :func:`check_image_name` is the one rule for all of them,
applied when a list is read (:func:`read_image_list`) and when a file is
loaded or saved (:mod:`mmscrl.orl.io`), so stage 3 never opens a file that
the user's data root does not hold:

* **Inside the data root.** Absolute names (``/x.jpg``, ``\\x.jpg``,
  ``C:\\x.jpg``) and names whose lexical normalisation
  (:func:`posixpath.normpath`, ``\\`` read as a separator too) leaves the
  root (``../../x.jpg``, ``a/../../x.jpg``) are refused: no stage-2 tool
  writes them, so they come from a foreign or crafted file. The check is
  lexical on purpose: symlinks *inside* the user's data root (or a data
  root that is itself a link) are the user's choice and are followed as
  usual, never resolved or judged.
* **Valid UTF-8.** A POSIX file name is bytes; Python shows one that is not
  UTF-8 (e.g. byte ``0xff``) as a str with lone surrogates
  (``os.fsdecode``). Such names are refused up front with the name's bytes
  and the advice to rename the file, rather than supported: the ORL files
  store names as text (the official format is JSON, read by the official
  code and other tools as UTF-8, where a lone surrogate is invalid), the
  fingerprints and per-image seeds hash the UTF-8 bytes, and the stage-3
  loaders hand paths to libraries with their own encodings. A rename
  (``convmv -f latin1 -t utf8 -r --notest <data_root>``) fixes it once and
  for all; supporting it would spread unportable names into every file.
"""
import json
import ntpath
import os
import os.path as osp
import posixpath
from typing import Iterable, List, Optional

import numpy as np

__all__ = [
    'read_image_list', 'open_rgb', 'load_rgb', 'IMG_EXTENSIONS',
    'check_image_name', 'check_image_names', 'name_bytes'
]

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')

#: what to do about a file name that is not valid UTF-8
_RENAME_ADVICE = ('rename the file to a UTF-8 name (e.g. convmv -f latin1 '
                  '-t utf8 -r --notest <data_root>) and list it under its '
                  'new name')
#: why a name outside the data root is refused, and what to do
_OUTSIDE = ('the mmscrl stage-2 tools never write such a name, so this file '
            'is foreign or crafted: recreate it with tools/orl/, or (an image '
            'list of your own) choose a --data-root that holds every image')


def name_bytes(name: str) -> str:
    """Printable (ASCII) form of a file name for messages: the ``repr`` of
    its bytes (``b'\\xff.jpg'``) when it is a surrogate-escaped non-UTF-8
    name, else its ``ascii``."""
    try:
        return repr(name.encode('utf-8', 'surrogateescape'))
    except UnicodeEncodeError:  # a lone surrogate outside \udc80-\udcff
        return ascii(name)


def check_image_name(name: str, source: str, where: str) -> str:
    """Refuse an image name that is not a UTF-8 path inside the data root
    (see the module docstring).

    Args:
        name (str): the name, relative to the data root.
        source (str): the file (or argument) it comes from, for messages.
        where (str): the entry in ``source`` (e.g. ``'"file_name"[3]'``,
            ``'line 7'``), for messages.

    Returns:
        str: ``name`` unchanged.

    Raises:
        ValueError: naming ``source``, ``where`` and the name, if it is
            empty, holds a NUL character, is not valid UTF-8, is absolute
            or leaves the data root.
    """
    fast = (name and name.isascii() and '..' not in name
            and name[0] not in '/\\' and '\x00' not in name
            and name[1:2] != ':')
    if fast:
        return name
    if not name:
        raise ValueError(f'{source}: {where} is an empty image name')
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        raise ValueError(
            f'{source}: {where} = {name_bytes(name)} is not valid UTF-8 '
            f'(a file name in another encoding); {_RENAME_ADVICE}') from None
    if '\x00' in name:
        raise ValueError(f'{source}: {where} = {name!r} contains a NUL '
                         'character; not a file name')
    unified = name.replace('\\', '/')
    if posixpath.isabs(unified) or ntpath.splitdrive(name)[0]:
        raise ValueError(
            f'{source}: {where} = {name!r} is an absolute path, outside the '
            f'data root: image names must be relative to it; {_OUTSIDE}')
    norm = posixpath.normpath(unified)
    if norm == '.':
        raise ValueError(f'{source}: {where} = {name!r} names the data root '
                         'itself, not an image')
    if norm == '..' or norm.startswith('../'):
        raise ValueError(
            f'{source}: {where} = {name!r} leads outside the data root '
            f'(normalised: {norm!r}); {_OUTSIDE}')
    return name


def check_image_names(names: Iterable[str], source: str,
                      key: str = 'file_name') -> List[str]:
    """:func:`check_image_name` on every name (entries ``"key"[i]``).

    Args:
        names (Iterable[str]): image names (already known to be ``str``).
        source (str): where they come from, for messages.
        key (str): the list's key in ``source``. Defaults to 'file_name'.

    Returns:
        list[str]: the names.

    Raises:
        ValueError: on the first bad name (see :func:`check_image_name`).
    """
    return [check_image_name(n, source, f'"{key}"[{i}]')
            for i, n in enumerate(names)]


def _names_from_coco(ann_file: str) -> List[str]:
    try:
        with open(ann_file, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ValueError(f'{ann_file}: no such file (--ann-file)') from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f'{ann_file}: not a valid COCO JSON file '
                         f'(--ann-file): {e}') from None
    images = data.get('images') if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise ValueError(f'{ann_file}: missing list "images" (--ann-file '
                         'must be a COCO annotation file)')
    names = []
    for i, im in enumerate(images):
        if not isinstance(im, dict) or 'file_name' not in im:
            raise ValueError(f'{ann_file}: images[{i}] has no "file_name"')
        if not isinstance(im['file_name'], str) or not im['file_name']:
            raise ValueError(f'{ann_file}: images[{i}]["file_name"] = '
                             f'{im["file_name"]!r} is not a file name')
        names.append(check_image_name(im['file_name'], ann_file,
                                      f'images[{i}]["file_name"]'))
    return names


def _names_from_list(img_list: str) -> List[str]:
    """Lines of a UTF-8 text file (blank lines ignored), each checked with
    :func:`check_image_name` (entries ``line <n>``)."""
    try:
        with open(img_list, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f'{img_list}: cannot read the image list '
                         f'(--img-list): {e}') from None
    names = []
    for no, raw in enumerate(data.splitlines(), 1):
        line = raw.decode('utf-8', 'surrogateescape').strip()
        if no == 1:
            line = line.lstrip('\ufeff')  # UTF-8 byte-order mark
        if line:
            names.append(check_image_name(line, img_list, f'line {no}'))
    return names


def _names_from_scan(data_root: str) -> List[str]:
    """All image files under ``data_root``, recursively, sorted; refuses
    (naming all of them, up to 10) names that are not valid UTF-8."""
    names, bad = [], []
    for root, _, files in os.walk(data_root):
        for fn in files:
            if fn.lower().endswith(IMG_EXTENSIONS):
                name = osp.relpath(osp.join(root, fn), data_root).replace(
                    os.sep, '/')
                try:
                    name.encode('utf-8')
                except UnicodeEncodeError:
                    bad.append(name)
                names.append(name)
    if bad:
        shown = ', '.join(name_bytes(n) for n in sorted(bad)[:10])
        more = f' and {len(bad) - 10} more' if len(bad) > 10 else ''
        raise ValueError(
            f'{data_root}: {len(bad)} image file name(s) are not valid UTF-8 '
            f'(names in another encoding): {shown}{more}. The ORL files '
            f'store image names as UTF-8 text: {_RENAME_ADVICE}, or leave '
            'them out with --img-list')
    return sorted(names)


def read_image_list(data_root: str,
                    ann_file: Optional[str] = None,
                    img_list: Optional[str] = None) -> List[str]:
    """The canonical image order (paths relative to ``data_root``).

    Every stage-2 file is indexed by position, in the order of
    ``instances_train2017.json['images']`` for COCO. Exactly one source is
    used, by priority:

    * ``ann_file``: a COCO-style json; its ``images[*].file_name`` order;
    * ``img_list``: a UTF-8 text file, one relative path per line (the
      official ``train2017.txt``), blank lines ignored;
    * otherwise: all image files under ``data_root``, recursively, sorted.

    Every name must be a UTF-8 path inside ``data_root``
    (:func:`check_image_name`).

    Args:
        data_root (str): the folder the names are relative to.
        ann_file (str, optional): COCO-style annotation file.
        img_list (str, optional): text file of names.

    Returns:
        list[str]: the names, in canonical order.

    Raises:
        ValueError: naming the file when it is missing or malformed, when
            no image is found, or naming the entry (and the names' bytes)
            when a name is absolute, leaves ``data_root`` or is not valid
            UTF-8.
    """
    if ann_file:
        names = _names_from_coco(ann_file)
    elif img_list:
        names = _names_from_list(img_list)
    else:
        names = _names_from_scan(data_root)
    if not names:
        raise ValueError(f'no images found (data_root={data_root!r}, '
                         f'ann_file={ann_file!r}, img_list={img_list!r})')
    return names


def open_rgb(path: str):
    """Open an image with PIL and convert it to RGB (fully decoded), as the
    official ORL tools read images.

    Raises:
        ValueError: naming ``path`` when it is missing, truncated or not an
            image (PIL's own messages do not name the file).
    """
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            return img.convert('RGB')
    except FileNotFoundError:
        raise ValueError(f'{path}: image not found') from None
    except (OSError, UnidentifiedImageError, SyntaxError,
            ValueError) as e:
        raise ValueError(f'{path}: cannot read the image, the file is '
                         f'truncated or corrupt ({type(e).__name__}: {e}); '
                         'replace it or remove it from the image '
                         'list') from None


def load_rgb(path: str) -> np.ndarray:
    """:func:`open_rgb` as an (H, W, 3) uint8 array."""
    return np.array(open_rgb(path))
