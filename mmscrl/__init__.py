# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl: self-supervised pre-training for localization on OpenMMLab.

Importing the package applies the stack fixes in :mod:`mmscrl.compat` and
registers every mmscrl class in the ``mmscrl`` scope (see
:mod:`mmscrl.registry`).
"""
import _mmscrl_mim_hook

from . import compat
from .version import __version__, version_info

_mmscrl_mim_hook.install()
compat.apply_all()

from . import datasets, engine, models  # noqa: E402,F401

__all__ = [
    '__version__', 'version_info', 'compat', 'datasets', 'engine', 'models'
]
