# Copyright (c) mmscrl contributors. All rights reserved.
from .losses import normalized_regression_loss, symmetric_regression_loss

__all__ = ['normalized_regression_loss', 'symmetric_regression_loss']
from . import dense_correspondence, queue  # noqa: F401,E402
from . import pretrained_backbone  # noqa: F401,E402
from . import pixpro  # noqa: F401,E402
