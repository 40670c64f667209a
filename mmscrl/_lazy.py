# Copyright (c) mmscrl contributors. All rights reserved.
"""What ``import mmscrl`` defers, and the hooks that catch up.

``import mmscrl`` imports neither torch nor any OpenMMLab library (tools
answer ``--help`` fast; ``python -X importtime -c "import mmscrl"``). What
it used to do eagerly happens at the latest moment at which it is still in
time:

* **Registration.** The registries of :mod:`mmscrl.registry` list the
  modules that register their classes as MMEngine ``locations``; MMEngine
  imports them on the first ``get``/``build`` of that registry, and it
  imports ``mmscrl.registry`` itself on the first ``mmscrl.<Name>`` lookup
  or ``default_scope='mmscrl'`` build. A class whose module pulls in a heavy
  optional library (``CheckedCocoDataset`` subclasses mmdet's
  ``CocoDataset``) is not in a location: :data:`LAZY_REGISTRATIONS` names
  its module, imported when that name is first looked up.
* **Subpackages.** ``mmscrl.models``, ``mmscrl.datasets`` ... are imported
  on first attribute access (PEP 562 ``__getattr__``, :func:`lazy_exports`).
* **Stack fixes.** Each fix of :mod:`mmscrl.compat` is applied right after
  the first import of the module it repairs (:data:`COMPAT_TRIGGERS`; if
  that import is part of a larger import of an mmengine, mmcv or mmscrl
  module, right after that one), or at ``import mmscrl`` if the module is
  already imported; so it is in place before any code can use the
  repaired module. ``tests/test_import_cost.py`` checks every import
  order.
"""
import importlib
import sys
from typing import Callable, Dict, Iterable, Tuple

#: registry attribute of :mod:`mmscrl.registry` -> {class name: module that
#: registers it}, for classes kept out of the registry's ``locations``.
LAZY_REGISTRATIONS: Dict[str, Dict[str, str]] = {
    'DATASETS': {
        'CheckedCocoDataset': 'mmscrl.datasets.coco_detection',
        'VOCKeepDifficultDataset': 'mmscrl.datasets.voc_detection',
    },
    'MODELS': {
        'SparseSingleRoIExtractor':
        'mmscrl.models.roi_heads.sparse_roi_extractor',
    },
}

#: :mod:`mmscrl.compat` fix -> the modules it repairs: it is applied right
#: after the first of them is imported.
COMPAT_TRIGGERS: Dict[str, Tuple[str, ...]] = {
    'patch_torch_load_safe_globals': ('torch', ),
    'patch_mmcv_adjust_hue': ('mmcv', ),
    'patch_runner_collate_scope': ('mmengine.runner', ),
    'patch_cpu_distributed': ('mmengine.dist', 'mmengine.model'),
    'patch_atomic_checkpoints': ('mmengine.runner', ),
    'patch_safe_checkpoint_loading': ('mmengine.runner', ),
    'patch_load_image_named_error': ('mmcv.transforms', ),
}
#: packages whose modules a fix imports (or patches). While one of them is
#: half-imported (e.g. ``mmengine.dist`` is done but ``mmengine.optim``,
#: which imported it, is not), the fixes wait for the end of that import:
#: every module of these packages is watched.
_WATCHED_PACKAGES = ('mmengine', 'mmcv', 'mmscrl')

_done = set()
_busy = False


def _ready() -> list:
    import _mmscrl_mim_hook
    if _mmscrl_mim_hook.executing():
        return []
    return [
        name for name, triggers in COMPAT_TRIGGERS.items()
        if name not in _done and any(t in sys.modules for t in triggers)
    ]


def apply_due_compat_fixes() -> None:
    """Apply each :mod:`mmscrl.compat` fix whose target is imported.

    Called at ``import mmscrl`` and right after each watched module is
    imported; a fix waits while a watched module is half-imported.
    """
    global _busy
    if _busy:  # an import made by a fix below; re-checked when it returns
        return
    _busy = True
    try:
        while True:
            names = _ready()
            if not names:
                return
            compat = importlib.import_module('mmscrl.compat')
            compat.apply_all(names=names)
            _done.update(names)
    finally:
        _busy = False


def apply_compat_fixes_when_imported() -> None:
    """Apply the due fixes now, and hook the imports of the others."""
    import _mmscrl_mim_hook
    watched = {f'{p}.*' for p in _WATCHED_PACKAGES}
    for triggers in COMPAT_TRIGGERS.values():
        watched.update(triggers)
    for name in sorted(watched):
        _mmscrl_mim_hook.after_import(
            name, lambda module: apply_due_compat_fixes())
    apply_due_compat_fixes()


def lazy_exports(package: str, exports: Dict[str, str],
                 submodules: Iterable[str] = ()) -> Tuple[Callable, Callable]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for lazily imported names.

    Args:
        package (str): The package's ``__name__``.
        exports (dict): Attribute name -> module (absolute, or relative to
            ``package`` with a leading dot) that defines it.
        submodules (iterable[str]): Names of subpackages/modules imported
            when first accessed as attributes.

    Returns:
        tuple: ``(__getattr__, __dir__)`` to assign in the package.
    """
    submodules = frozenset(submodules)

    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f'{package}.{name}')
        if name in exports:
            module = importlib.import_module(exports[name], package)
            value = getattr(module, name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(
            f'module {package!r} has no attribute {name!r}')

    def __dir__():
        return sorted(
            set(vars(sys.modules[package])) | set(exports) | submodules)

    return __getattr__, __dir__
