"""Start-up hook that lets ``_base_ = 'mmscrl::<path>'`` resolve in any config.

MMEngine resolves ``pkg::path`` bases only for packages listed in
``mmengine.config.utils.MODULE2PACKAGE`` and asserts on anything else, before any
``custom_imports`` are executed. ``mmpretrain`` and ``mmdet`` are hard-coded there;
third-party packages are not. ``setup.py`` installs ``mmscrl-mim.pth`` next to
this module; Python runs it at start-up and it calls :func:`install`, which adds
``'mmscrl'`` to that mapping the moment ``mmengine.config.utils`` is imported.
It imports nothing heavy (no torch, no mmengine) so start-up stays cheap.
"""
import importlib.abc
import importlib.machinery
import sys

_MODULE = 'mmengine.config.utils'


def _register(module) -> None:
    mapping = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(mapping, dict):
        mapping.setdefault('mmscrl', 'mmscrl')


class _MMScrlMimFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of ``mmengine.config.utils`` to patch it after exec."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            _register(module)

        loader.exec_module = exec_module
        return spec


def install() -> None:
    if _MODULE in sys.modules:
        _register(sys.modules[_MODULE])
        return
    if not any(isinstance(f, _MMScrlMimFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MMScrlMimFinder())
