# Copyright (c) mmscrl contributors. All rights reserved.
"""mmdet's ``CocoDataset`` that counts the annotations it drops.

mmdet 3.x ``CocoDataset.parse_data_info`` skips, without a word, every
annotation whose box has no overlap with the image (negative width or
height included), whose area is not positive or whose side is under one
pixel, and every annotation of a category outside the dataset's classes. A
user whose converter wrote ``[x1, y1, x2, y2]`` instead of ``[x, y, w, h]``
silently trains on a fraction of the boxes.
"""
import logging
from typing import Dict, List

from mmdet.datasets import CocoDataset
from mmengine.logging import print_log

from mmscrl.registry import DATASETS

__all__ = ['CheckedCocoDataset', 'classify_dropped_annotation']


def classify_dropped_annotation(ann: dict, img_info: dict, cat_ids) -> str:
    """Why mmdet's ``CocoDataset.parse_data_info`` drops ``ann``, or ''.

    Mirrors mmdet 3.3's tests in its order: ``ignore`` (not a drop: mmdet
    skips those on purpose), no overlap with the image, non-positive area
    or a side under one pixel, unknown category.

    Args:
        ann (dict): One COCO annotation (``bbox`` as ``[x, y, w, h]``).
        img_info (dict): Its image (``width``, ``height``).
        cat_ids (Sequence[int]): The dataset's category ids.

    Returns:
        str: ``'negative size'``, ``'outside the image'``, ``'too small'``,
        ``'unknown category'`` or ``''`` (kept, or ignored on purpose).
    """
    if ann.get('ignore', False):
        return ''
    x1, y1, w, h = ann['bbox']
    inter_w = max(0, min(x1 + w, img_info['width']) - max(x1, 0))
    inter_h = max(0, min(y1 + h, img_info['height']) - max(y1, 0))
    if inter_w * inter_h == 0:
        return 'negative size' if w < 0 or h < 0 else 'outside the image'
    if ann['area'] <= 0 or w < 1 or h < 1:
        return 'too small'
    if ann['category_id'] not in cat_ids:
        return 'unknown category'
    return ''


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset``, logging the annotations it drops.

    Same data as ``CocoDataset`` (it subclasses it and keeps its parsing);
    after loading, a warning names the annotation file and, per reason
    (:func:`classify_dropped_annotation`), the count and up to three
    annotation ids. The counts are kept in ``self.dropped_annotations``.
    Used by the demo detector and the COCO transfer configs.

    Args:
        *args, **kwargs: Those of mmdet's ``CocoDataset``.
    """

    def load_data_list(self) -> List[dict]:
        self.dropped_annotations: Dict[str, List] = {}
        data_list = super().load_data_list()
        if self.dropped_annotations:
            total = sum(len(v) for v in self.dropped_annotations.values())
            parts = ', '.join(
                f'{len(ids)} {why} (e.g. id {ids[:3]})'
                for why, ids in sorted(self.dropped_annotations.items()))
            print_log(f'{self.ann_file}: {total} annotations dropped by '
                      f'mmdet CocoDataset: {parts}', logger='current',
                      level=logging.WARNING)
        return data_list

    def parse_data_info(self, raw_data_info: dict):
        img_info = raw_data_info['raw_img_info']
        for ann in raw_data_info['raw_ann_info']:
            why = classify_dropped_annotation(ann, img_info, self.cat_ids)
            if why:
                self.dropped_annotations.setdefault(why, []).append(
                    ann.get('id'))
        return super().parse_data_info(raw_data_info)
