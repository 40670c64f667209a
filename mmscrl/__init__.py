# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl: self-supervised pre-training for localization on OpenMMLab.

Importing the package applies the stack fixes in :mod:`mmscrl.compat` and
registers every mmscrl class in the ``mmscrl`` scope (see
:mod:`mmscrl.registry`), both lazily: it imports neither torch nor any
OpenMMLab library itself. Each fix is applied right after the first import
of the module it repairs, each class is registered by the first lookup of
its registry (``MODELS.get('SCRL')``, ``type='mmscrl.SCRL'`` in another
project's config, ``default_scope='mmscrl'``), and ``mmscrl.models`` etc.
are imported on first access (see :mod:`mmscrl._lazy`).
"""
import _mmscrl_mim_hook

from . import _lazy
from .version import __version__, version_info

_mmscrl_mim_hook.install()
_lazy.apply_compat_fixes_when_imported()

__all__ = [
    '__version__', 'version_info', 'compat', 'datasets', 'engine', 'models'
]
__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, {}, submodules=('compat', 'datasets', 'engine', 'models'))
