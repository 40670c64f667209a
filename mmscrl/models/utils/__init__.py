# Copyright (c) mmscrl contributors. All rights reserved.
from .losses import normalized_regression_loss, symmetric_regression_loss

__all__ = ['normalized_regression_loss', 'symmetric_regression_loss']
