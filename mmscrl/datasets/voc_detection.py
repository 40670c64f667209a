# Copyright (c) mmscrl contributors. All rights reserved.
"""mmdet's ``VOCDataset`` that trains on "difficult" objects, as detectron2.

mmdet 3.x ``XMLDataset._parse_instance_info`` gives every object marked
``<difficult>1</difficult>`` ``ignore_flag=1``, in training as in testing:
``PackDetInputs`` moves it to ``ignored_instances``, which the Faster R-CNN
assigners of the VOC configs do not read (``ignore_iof_thr=-1``), so the
anchors and proposals on a difficult object are trained as background.
Detectron2's ``load_voc_instances`` (``detectron2/data/datasets/
pascal_voc.py``: "We include 'difficult' samples in training") keeps them as
ordinary instances, and its ``PascalVOCDetectionEvaluator`` reads the flag
from the XML files at test time only. The MoCo, DenseCL and PixPro VOC
numbers were trained that way.
"""
import logging
import xml.etree.ElementTree as ET
from typing import List, Union

from mmdet.datasets import VOCDataset
from mmengine.logging import print_log

from mmscrl.registry import DATASETS

__all__ = ['VOCKeepDifficultDataset']

_BOX_TAGS = ('xmin', 'ymin', 'xmax', 'ymax')


def _text(node: ET.Element, tag: str, where: str) -> str:
    """Text of ``node``'s child ``tag``; a ValueError naming ``where``
    if the child is missing or empty."""
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise ValueError(f'{where} has no <{tag}> value')
    return child.text.strip()


def _number(node: ET.Element, tag: str, where: str) -> float:
    text = _text(node, tag, where)
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f'{where}: <{tag}> is not a number: {text!r}') from None


@DATASETS.register_module()
class VOCKeepDifficultDataset(VOCDataset):
    """mmdet's ``VOCDataset`` whose training split keeps "difficult" objects
    as ordinary instances, as detectron2's VOC loader.

    In training (``test_mode=False``, with ``keep_difficult``) a difficult
    object gets ``ignore_flag=0``; everything else is mmdet's
    ``VOCDataset``: the same boxes (integer coordinates, 1 subtracted from
    each), labels, image list, ``filter_cfg`` (a box with a side under
    ``filter_cfg.bbox_min_size``, if set, is still ignored) and meta. In
    ``test_mode`` difficult objects keep ``ignore_flag=1``, as in mmdet:
    they become ``ignored_instances``, which ``mmscrl.VOCCocoStyleMetric``
    and mmdet's ``VOCMetric`` skip, as detectron2's evaluator and the VOC
    devkit do. One line per dataset logs how many difficult objects were
    kept (also ``self.num_difficult_kept``).

    Reference: detectron2 ``detectron2/data/datasets/pascal_voc.py``
    (``load_voc_instances``), the loader of the MoCo / DenseCL / PixPro
    ``pascal_voc_R_50_C4_24k`` transfers.

    A malformed annotation (not well-formed XML, an object without
    ``<name>`` or ``<bndbox>``, a coordinate that is not a number, a
    ``<size>`` without ``<width>``/``<height>``) raises a ValueError naming
    the XML file (mmdet raises ``ParseError``/``AttributeError`` without
    it).

    Args:
        keep_difficult (bool): Train on difficult objects (detectron2);
            False gives mmdet's ``VOCDataset`` behaviour. It has no effect
            in ``test_mode``. Defaults to True.
        **kwargs: Those of mmdet's ``VOCDataset`` (``ann_file``,
            ``data_root``, ``data_prefix=dict(sub_data_root=...)``,
            ``filter_cfg``, ``pipeline``, ``test_mode``, ...).
    """

    def __init__(self, keep_difficult: bool = True, **kwargs) -> None:
        if not isinstance(keep_difficult, bool):
            raise TypeError(f'VOCKeepDifficultDataset: keep_difficult must '
                            f'be a bool, got {keep_difficult!r}')
        min_size = (kwargs.get('filter_cfg') or {}).get('bbox_min_size')
        if min_size is not None and kwargs.get('test_mode', False):
            raise ValueError(
                f'VOCKeepDifficultDataset: filter_cfg.bbox_min_size='
                f'{min_size} is for training only (mmdet asserts not '
                'test_mode)')
        self.keep_difficult = keep_difficult
        self.num_difficult_kept = 0
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        self.num_difficult_kept = 0
        data_list = super().load_data_list()
        if self.keep_difficult and not self.test_mode:
            print_log(
                f'{self.ann_file}: {self.num_difficult_kept} "difficult" '
                'objects kept as training instances (as detectron2\'s VOC '
                'loader; mmdet\'s VOCDataset ignores them)',
                logger='current',
                level=logging.INFO)
        return data_list

    def parse_data_info(self, img_info: dict) -> Union[dict, List[dict]]:
        """mmdet's ``XMLDataset.parse_data_info``; errors name the file."""
        xml_path = img_info['xml_path']
        try:
            return super().parse_data_info(img_info)
        except ET.ParseError as err:
            raise ValueError(
                f'{xml_path}: not well-formed XML ({err})') from err
        except (AttributeError, TypeError, ValueError) as err:
            # mmdet reads <size> with ``find(...).text``: a missing tag is
            # an AttributeError; ours (objects) are ValueErrors
            raise ValueError(
                f'{xml_path}: malformed VOC annotation: {err}') from err

    def _parse_instance_info(self,
                             raw_ann_info: ET.ElementTree,
                             minus_one: bool = True) -> List[dict]:
        """The objects of one XML file, as mmdet's
        ``XMLDataset._parse_instance_info`` except that difficult objects
        are not ignored in training (``keep_difficult``).

        Args:
            raw_ann_info (ElementTree): The parsed XML file.
            minus_one (bool): Subtract 1 from every coordinate (mmdet's VOC
                convention). Defaults to True.

        Returns:
            list[dict]: ``bbox`` ([x1, y1, x2, y2], int), ``bbox_label`` and
            ``ignore_flag`` of each object of a known class.
        """
        min_size = self.bbox_min_size
        keep = self.keep_difficult and not self.test_mode
        classes = self._metainfo['classes']
        instances = []
        for k, obj in enumerate(raw_ann_info.findall('object')):
            where = f'<object> #{k}'
            name = _text(obj, 'name', where)
            if name not in classes:  # mmdet skips them too
                continue
            where = f'<object> #{k} ({name!r})'
            difficult = obj.find('difficult') is not None and bool(
                int(_number(obj, 'difficult', where)))
            box = obj.find('bndbox')
            if box is None:
                raise ValueError(f'{where} has no <bndbox>')
            bbox = [
                int(_number(box, tag, f'{where} <bndbox>'))
                for tag in _BOX_TAGS
            ]
            if minus_one:
                bbox = [v - 1 for v in bbox]
            too_small = min_size is not None and (
                bbox[2] - bbox[0] < min_size or bbox[3] - bbox[1] < min_size)
            if difficult and keep and not too_small:
                self.num_difficult_kept += 1
            ignore = too_small or (difficult and not keep)
            instances.append(
                dict(
                    ignore_flag=int(ignore),
                    bbox=bbox,
                    bbox_label=self.cat2label[name]))
        return instances
