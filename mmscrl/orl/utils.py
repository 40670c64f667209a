# Copyright (c) mmscrl contributors. All rights reserved.
"""Inputs of the ORL stage-2 tools: the canonical image list and image
reading with errors that name the file."""
import json
import os
import os.path as osp
from typing import List, Optional

import numpy as np

__all__ = ['read_image_list', 'open_rgb', 'load_rgb', 'IMG_EXTENSIONS']

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def _names_from_coco(ann_file: str) -> List[str]:
    try:
        with open(ann_file) as f:
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
        names.append(im['file_name'])
    return names


def read_image_list(data_root: str,
                    ann_file: Optional[str] = None,
                    img_list: Optional[str] = None) -> List[str]:
    """The canonical image order (paths relative to ``data_root``).

    Every stage-2 file is indexed by position, in the order of
    ``instances_train2017.json['images']`` for COCO. Exactly one source is
    used, by priority:

    * ``ann_file``: a COCO-style json; its ``images[*].file_name`` order;
    * ``img_list``: a text file, one relative path per line (the official
      ``train2017.txt``), blank lines ignored;
    * otherwise: all image files under ``data_root``, recursively, sorted.

    Raises:
        ValueError: naming the file when it is missing or malformed, or when
            no image is found.
    """
    if ann_file:
        names = _names_from_coco(ann_file)
    elif img_list:
        try:
            with open(img_list) as f:
                names = [ln.strip() for ln in f if ln.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f'{img_list}: cannot read the image list '
                             f'(--img-list): {e}') from None
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
