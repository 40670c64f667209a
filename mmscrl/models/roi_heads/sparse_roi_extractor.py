# Copyright (c) mmscrl contributors. All rights reserved.
"""mmdet's ``SingleRoIExtractor`` with a fast CPU RoIAlign.

mmdet builds its RoI layers from ``mmcv.ops`` by name, and mmcv's CPU
RoIAlign kernel runs on one thread: in the CPU demo detector (Faster R-CNN
R18-FPN, 128 px, batch 8) its forward and backward took about half of each
training step. This subclass builds, for ``roi_layer=dict(type='RoIAlign',
...)``, a :class:`~mmscrl.models.utils.roi_layers.SparseRoIAlign`: the same
op as a sparse matrix product on CPU (equal to mmcv's up to float summation
order, forward and backward), mmcv's kernel on GPU. Everything else
(level mapping, ``finest_scale``, ``out_channels``) is mmdet's.
"""
from typing import List

import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmscrl.registry import MODELS

from ..utils.roi_layers import SparseRoIAlign

__all__ = ['SparseSingleRoIExtractor']


@MODELS.register_module()
class SparseSingleRoIExtractor(SingleRoIExtractor):
    """``SingleRoIExtractor`` whose ``RoIAlign`` layers run
    :class:`~mmscrl.models.utils.roi_layers.SparseRoIAlign`.

    Use ``type='mmscrl.SparseSingleRoIExtractor'`` in place of
    ``type='SingleRoIExtractor'``; the arguments are mmdet's.

    Args:
        roi_layer (dict): ``type='RoIAlign'`` and its arguments; any other
            ``type`` is built by mmdet (from ``mmcv.ops``).
        out_channels (int): Output channels of the RoI layers.
        featmap_strides (list[int]): Strides of the input feature maps.
        finest_scale (int): Scale threshold of mapping to level 0.
            Defaults to 56 (mmdet's).
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def build_roi_layers(self, layer_cfg: dict,
                         featmap_strides: List[int]) -> nn.ModuleList:
        cfg = dict(layer_cfg)
        if cfg.get('type') != 'RoIAlign':
            return super().build_roi_layers(layer_cfg, featmap_strides)
        cfg.pop('type')
        return nn.ModuleList(
            [SparseRoIAlign(spatial_scale=1 / s, **cfg)
             for s in featmap_strides])
