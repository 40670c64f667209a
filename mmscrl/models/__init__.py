# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl models: the algorithms (registered in the ``mmscrl`` scope under
the same names) and their shared functions.

``mmscrl.models.SCRL``, ``mmscrl.models.DenseCLOfficial``,
``mmscrl.models.ORL`` and ``mmscrl.models.PixPro`` are the classes a config
reaches as ``type='SCRL'`` etc.; ``mmscrl.models.SparseSingleRoIExtractor``
(an mmdet RoI extractor, imported on first access) is
``type='mmscrl.SparseSingleRoIExtractor'`` in an mmdet config; necks and
heads are mmpretrain's (``NonLinearNeck``, ``DenseCLNeck``,
``LatentPredictHead``, ``ContrastiveHead``), configured in ``configs/``.
"""
from mmscrl._lazy import LAZY_REGISTRATIONS, lazy_exports

from .algorithms.densecl import DenseCLOfficial
from .algorithms.orl import ORL
from .algorithms.pixpro import PixPro, PixProMLP2d
from .algorithms.scrl import SCRL
from .utils import *  # noqa: F401,F403
from .utils import __all__ as _utils_all
from .utils.pretrained_backbone import PretrainedBackbone

__all__ = [  # noqa: F405 (SparseSingleRoIExtractor: lazy, below)
    'SCRL', 'DenseCLOfficial', 'ORL', 'PixPro', 'PixProMLP2d',
    'PretrainedBackbone', 'SparseSingleRoIExtractor', *_utils_all
]
# mmdet subclasses (SparseSingleRoIExtractor): imported on first access
__getattr__, __dir__ = lazy_exports(__name__, LAZY_REGISTRATIONS['MODELS'])
