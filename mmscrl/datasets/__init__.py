# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl datasets and transforms (registered in the ``mmscrl`` scope under
the same names): ``mmscrl.datasets.ORLDataset``,
``mmscrl.datasets.SCRLBoxPairSampler``, ..."""
from .coco_detection import CheckedCocoDataset
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
    'FastGaussianBlur', 'FastSolarize', 'FastResizeBlur', 'FastRandomApply'
]
