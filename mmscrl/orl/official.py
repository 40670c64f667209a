# Copyright (c) mmscrl contributors. All rights reserved.
"""Readers and writers of the official ORL JSON files (Jiahao000/ORL).

The layouts are described in :mod:`mmscrl.orl.io`; these functions are
called by its ``load_*``/``save_*`` for paths ending in ``.json``. The
readers check the types of every level (a list where a list is expected,
numbers in boxes, strings in ``file_name``) and raise :class:`ValueError`
naming the file and the key, never ``TypeError``/``RecursionError``; the
data classes then check shapes, box sizes and kNN indices.
"""
import json

import numpy as np

from .io import (OFFICIAL_INFO_KEYS, ORLCorrespondence, ORLKnn, ORLProposals,
                 atomic_write)

__all__ = [
    'read_proposals_json', 'write_proposals_json', 'read_knn_json',
    'write_knn_json', 'read_correspondence_json', 'write_correspondence_json'
]


def _read_json(path: str) -> dict:
    try:
        with open(path, 'r') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ValueError(f'{path}: no such file') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from None
    except RecursionError:
        raise ValueError(f'{path}: JSON nested too deeply') from None
    if not isinstance(data, dict):
        raise ValueError(f'{path}: top level must be a JSON object, got '
                         f'{type(data).__name__}')
    return data


def _get(d: dict, key: str, source: str, parent: str = ''):
    where = f'"{parent}"' if parent else 'the top level'
    if not isinstance(d, dict):
        raise ValueError(f'{source}: {where} is a {type(d).__name__}, '
                         f'expected an object with key "{key}"')
    if key not in d:
        raise ValueError(f'{source}: missing key "{key}" in {where}')
    return d[key]


def _list(value, source: str, key: str) -> list:
    if not isinstance(value, list):
        raise ValueError(f'{source}: "{key}" is a {type(value).__name__}, '
                         'expected a list')
    return value


def _write_json(path: str, obj: dict) -> None:
    atomic_write(path, lambda f: json.dump(obj, f), mode='w')


def _images(data: dict, source: str):
    images = _get(data, 'images', source)
    if isinstance(images, dict):
        names = _list(_get(images, 'file_name', source, 'images'), source,
                      'images.file_name')
    elif isinstance(images, list):  # tolerate COCO-style list of dicts
        names = [_get(im, 'file_name', source, f'images[{i}]')
                 for i, im in enumerate(images)]
    else:
        raise ValueError(f'{source}: "images" must be an object with '
                         '"file_name" and "id" lists')
    return names


def _images_block(file_names):
    return dict(file_name=list(file_names), id=list(range(len(file_names))))


def _info(data: dict, source: str) -> dict:
    info = data.get('info', {})
    if not isinstance(info, dict):
        raise ValueError(f'{source}: "info" is a {type(info).__name__}, '
                         'expected an object')
    return dict(info)


# ---- proposals -----------------------------------------------------------
def read_proposals_json(path: str) -> ORLProposals:
    """``{"bbox": [N][B_i][4]}`` (official single-box squeeze undone)."""
    data = _read_json(path)
    bbox = _list(_get(data, 'bbox', path), path, 'bbox')
    return ORLProposals(boxes=bbox).validate(path)


def write_proposals_json(props: ORLProposals, path: str) -> None:
    """Official SS JSON, with the official ``squeeze()`` of single boxes."""
    props.validate()
    out = []
    for b in props.boxes:
        b = np.asarray(b)
        lst = b.astype(np.int64).tolist() if np.all(np.mod(b, 1) == 0) \
            else b.tolist()
        out.append(lst[0] if len(lst) == 1 else lst)
    _write_json(path, dict(bbox=out))


# ---- kNN -----------------------------------------------------------------
def read_knn_json(path: str) -> ORLKnn:
    """Official kNN JSON (``knn_image_num`` becomes ``info['k']``)."""
    data = _read_json(path)
    names = _images(data, path)
    pa = _get(data, 'pseudo_annotations', path)
    ids = _list(_get(pa, 'knn_image_id', path, 'pseudo_annotations'), path,
                'knn_image_id')
    info = _info(data, path)
    if 'knn_image_num' in info:
        info['k'] = info.pop('knn_image_num')
    return ORLKnn(file_names=names, knn=ids, info=info).validate(path)


def write_knn_json(knn: ORLKnn, path: str) -> None:
    knn.validate()
    n, k = knn.knn.shape
    _write_json(
        path,
        dict(info=dict(knn_image_num=int(k)),
             images=_images_block(knn.file_names),
             pseudo_annotations=dict(image_id=list(range(n)),
                                     knn_image_id=knn.knn.tolist())))


# ---- correspondence ------------------------------------------------------
def read_correspondence_json(path: str) -> ORLCorrespondence:
    """Official correspondence JSON; official ``info`` keys are mapped to
    ours (:data:`~mmscrl.orl.io.OFFICIAL_INFO_KEYS`)."""
    data = _read_json(path)
    names = _images(data, path)
    pa = _get(data, 'pseudo_annotations', path)
    bbox = _list(_get(pa, 'bbox', path, 'pseudo_annotations'), path, 'bbox')
    knn = _list(_get(pa, 'knn_image_id', path, 'pseudo_annotations'), path,
                'knn_image_id')
    pairs = _list(_get(pa, 'knn_bbox_pair', path, 'pseudo_annotations'),
                  path, 'knn_bbox_pair')
    for i, row in enumerate(pairs):
        _list(row, path, f'knn_bbox_pair[{i}]')
    inv = {v: key for key, v in OFFICIAL_INFO_KEYS.items()}
    info = {inv.get(key, key): v for key, v in _info(data, path).items()}
    return ORLCorrespondence(
        file_names=names, boxes=bbox, knn=knn,
        pairs=[list(r) for r in pairs], info=info).validate(path)


def write_correspondence_json(corr: ORLCorrespondence, path: str) -> None:
    corr.validate()
    n = len(corr.file_names)
    info = {OFFICIAL_INFO_KEYS.get(key, key): v
            for key, v in corr.info.items()}
    _write_json(
        path,
        dict(info=info,
             images=_images_block(corr.file_names),
             pseudo_annotations=dict(
                 image_id=list(range(n)),
                 bbox=[b.tolist() for b in corr.boxes],
                 knn_image_id=corr.knn.tolist(),
                 knn_bbox_pair=[[p.tolist() for p in row]
                                for row in corr.pairs])))
