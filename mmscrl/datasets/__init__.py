# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl datasets and transforms (registered in the ``mmscrl`` scope under
the same names): ``mmscrl.datasets.ORLDataset``,
``mmscrl.datasets.SCRLBoxPairSampler``, ...

The subclasses of mmdet's datasets (``CheckedCocoDataset``,
``VOCKeepDifficultDataset``) are imported (and registered) on first use
only, so that mmdet is not imported with the rest
(:data:`mmscrl._lazy.LAZY_REGISTRATIONS`)."""
from mmscrl._lazy import LAZY_REGISTRATIONS, lazy_exports
from .orl_dataset import ORLDataset
from .transforms.fast_transforms import (FastColorJitter, FastGaussianBlur,
                                         FastRandomApply, FastRandomFlip,
                                         FastRandomGrayscale,
                                         FastRandomResizedCrop,
                                         FastResizeBlur, FastSolarize)
from .transforms.loading import LoadImageForViews
from .transforms.orl_transforms import ORLCropPatches, ORLMultiView
from .transforms.scrl_transforms import (MultiViewWithGeometry,
                                         RandomFlipWithGeometry,
                                         RandomResizedCropWithGeometry,
                                         ResizeBlur, SCRLBoxPairSampler)

__all__ = [
    'CheckedCocoDataset', 'ORLDataset', 'ORLCropPatches', 'ORLMultiView',
    'MultiViewWithGeometry',
    'RandomFlipWithGeometry', 'RandomResizedCropWithGeometry', 'ResizeBlur',
    'SCRLBoxPairSampler', 'LoadImageForViews', 'FastRandomResizedCrop',
    'FastRandomFlip', 'FastColorJitter', 'FastRandomGrayscale',
    'FastGaussianBlur', 'FastSolarize', 'FastResizeBlur', 'FastRandomApply',
    'VOCKeepDifficultDataset'
]
__getattr__, __dir__ = lazy_exports(__name__, LAZY_REGISTRATIONS['DATASETS'])
