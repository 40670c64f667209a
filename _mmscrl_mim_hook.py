"""Start-up hook that lets ``_base_ = 'mmscrl::<path>'`` resolve in any config.

MMEngine resolves ``pkg::path`` bases only for packages listed in
``mmengine.config.utils.MODULE2PACKAGE`` and asserts on anything else, before
any ``custom_imports`` are executed. ``mmpretrain`` and ``mmdet`` are
hard-coded there; third-party packages are not. MMEngine (and openmim) then
locate the package with ``get_installed_path``, which joins the location of
the distribution's metadata with the package name. That is right for a wheel
install (``site-packages/mmscrl``) but wrong for a PEP 660 editable install,
where the metadata lives in ``site-packages`` while the code stays in the
source tree.

``setup.py`` installs ``mmscrl-mim.pth`` next to this module, for wheel and
editable installs alike. Python runs it at start-up and it calls
:func:`install`, which patches, the moment each module is first imported:

* ``mmengine.config.utils``: adds ``'mmscrl'`` to ``MODULE2PACKAGE``;
* ``mmengine.utils.package_utils`` and ``mim.utils.utils``: wraps
  ``get_installed_path`` so that ``'mmscrl'`` resolves to the directory the
  import system finds (``importlib.util.find_spec``, which sees editable
  installs); every other package goes to the original function.

It imports nothing heavy (no torch, no mmengine) so start-up stays cheap.
``import mmscrl`` calls :func:`install` too, for environments where ``.pth``
files are not processed (``python -S``).
"""
import importlib.abc
import importlib.util
import os.path as osp
import sys

_PACKAGE = 'mmscrl'


def _register(module) -> None:
    mapping = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(mapping, dict):
        mapping.setdefault(_PACKAGE, _PACKAGE)


def mmscrl_path():
    """Directory of the importable ``mmscrl`` package (no import), or None."""
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return osp.dirname(spec.origin)


def _wrap_get_installed_path(module) -> None:
    original = getattr(module, 'get_installed_path', None)
    if original is None or getattr(original, '_mmscrl_wrapped', False):
        return

    def get_installed_path(package: str) -> str:
        if package == _PACKAGE:
            path = mmscrl_path()
            if path is not None:
                return path
        return original(package)

    get_installed_path.__doc__ = original.__doc__
    get_installed_path.__wrapped__ = original
    get_installed_path._mmscrl_wrapped = True
    module.get_installed_path = get_installed_path


_PATCHES = {
    'mmengine.config.utils': _register,
    'mmengine.utils.package_utils': _wrap_get_installed_path,
    'mim.utils.utils': _wrap_get_installed_path,
}


#: module name -> callbacks run with the module right after a later import
#: has executed it (:func:`after_import`); a name ending in ``.*`` stands
#: for a package and every module in it
_AFTER_IMPORT = {}
#: names of the watched modules whose code is running (outermost first)
_EXECUTING = []


def after_import(name: str, callback) -> None:
    """Run ``callback(module)`` right after module ``name`` is executed.

    Only imports made after this call are seen: a module already in
    ``sys.modules`` is the caller's business. ``import mmscrl`` uses it to
    apply each :mod:`mmscrl.compat` fix when the module it repairs is first
    imported (:mod:`mmscrl._lazy`).

    Args:
        name (str): Full module name, e.g. ``'mmengine.runner'``, or
            ``'mmengine.*'`` for the package and all its modules.
        callback (callable): Called with the module object.
    """
    _AFTER_IMPORT.setdefault(name, []).append(callback)
    _install_finder()


def executing() -> list:
    """Names of the modules watched by :func:`after_import` whose import is
    under way (their code has not finished running)."""
    return list(_EXECUTING)


def _callbacks(fullname: str) -> list:
    top = fullname.split('.')[0] + '.*'
    return _AFTER_IMPORT.get(fullname, []) + _AFTER_IMPORT.get(top, [])


def _find_spec_elsewhere(fullname, path, target):
    """The spec the other finders of ``sys.meta_path`` give (editable
    installs have their own finder)."""
    for finder in sys.meta_path:
        if type(finder).__name__ == '_MMScrlMimFinder':
            continue
        find_spec = getattr(finder, 'find_spec', None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _MMScrlMimFinder(importlib.abc.MetaPathFinder):
    """Wraps the loaders of the modules in ``_PATCHES`` and
    ``_AFTER_IMPORT`` to patch (call back) after exec."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHES and not _callbacks(fullname):
            return None
        spec = _find_spec_elsewhere(fullname, path, target)
        if (spec is None or spec.loader is None
                or not hasattr(spec.loader, 'exec_module')):
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            _EXECUTING.append(fullname)
            try:
                original_exec(module)
            finally:
                _EXECUTING.remove(fullname)
            patch = _PATCHES.get(fullname)
            if patch is not None:
                patch(module)
            for callback in _callbacks(fullname):
                callback(module)

        loader.exec_module = exec_module
        return spec


def _install_finder() -> None:
    if not any(type(f).__name__ == '_MMScrlMimFinder' for f in sys.meta_path):
        sys.meta_path.insert(0, _MMScrlMimFinder())


def install() -> None:
    """Patch the modules already imported; hook the ones still to come.

    Modules that re-export ``get_installed_path`` (``mmengine.utils``,
    ``mim.utils``, ``mmengine.config.config``) bind the patched function
    when they import it after the patch; already-bound names are updated too.
    """
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    for name, src in (('mmengine.utils', 'mmengine.utils.package_utils'),
                      ('mmengine.config.config',
                       'mmengine.utils.package_utils'),
                      ('mim.utils', 'mim.utils.utils'),
                      ('mim.commands.train', 'mim.utils.utils'),
                      ('mim.commands.test', 'mim.utils.utils')):
        if (name in sys.modules and src in sys.modules
                and hasattr(sys.modules[name], 'get_installed_path')):
            fn = getattr(sys.modules[src], 'get_installed_path', None)
            if getattr(fn, '_mmscrl_wrapped', False):
                setattr(sys.modules[name], 'get_installed_path', fn)
    _install_finder()
