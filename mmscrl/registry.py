# Copyright (c) mmscrl contributors. All rights reserved.
"""MMEngine registries of mmscrl (scope ``'mmscrl'``).

Every registry here is a child of the matching mmpretrain registry, which is
itself a child of MMEngine's root registry. Hence, with
``default_scope = 'mmscrl'``:

* our names (``SCRL``, ``ORL``, ...) resolve here;
* any other name falls through to mmpretrain (``ResNet``, ``LARS``,
  ``CosineEMA``, ``NonLinearNeck``, ...) and then MMEngine
  (``OptimWrapper``, ``CheckpointHook``, ...), without a prefix;
* other OpenMMLab projects reach ours as ``type='mmscrl.SCRL'`` after
  ``custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)``.

Name-clash rule
---------------
A child registry silently *shadows* a parent's name for everyone whose default
scope is ``mmscrl``. To make such shadowing impossible to hit by accident,
registering a name that already exists in an ancestor registry (mmpretrain or
MMEngine) raises :class:`KeyError` at import time. A class that re-implements
an upstream name gets a distinct name (our DenseCL algorithm is
``DenseCLOfficial``; mmpretrain's stays reachable as ``DenseCL``). The tests
also check our names against mmdet's registries.

Configs inherited through ``mmscrl::``
--------------------------------------
``_base_ = 'mmscrl::demo/...'`` makes MMEngine stamp ``_scope_='mmscrl'`` on
every outermost typed dict of that base that has no scope yet, whatever the
base's ``default_scope``; such a dict and the dicts it builds (a dataset's
pipeline) are resolved here. These registries deliberately do not fall
through to mmdet or mmseg: mmcv registers ``RandomFlip``, ``Resize`` and
``LoadAnnotations`` in the root, so a fall-through after the parents would
still give mmcv's classes (boxes not flipped or resized). Hence a shipped
config names another library's classes with their scope
(``mmdet.PackDetInputs``, ``mmdet.CocoMetric``) unless they come from that
library's own ``pkg::`` base (already stamped with its scope);
``tests/test_pkg_inheritance.py`` checks that every shipped config resolves
the same classes by path and through ``mmscrl::``.
"""
from importlib import import_module

from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

from ._lazy import LAZY_REGISTRATIONS

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'METRICS',
    'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]


class ScopedRegistry(Registry):
    """A :class:`Registry` that refuses names already known to an ancestor.

    Its classes are registered when their modules are imported: the
    ``locations`` on the first ``get``/``build`` (MMEngine), and a class of
    ``lazy`` (name -> module) when that name is first looked up, so that a
    module importing a heavy optional library (mmdet) is imported only for
    its own classes (see :mod:`mmscrl._lazy`).
    """

    def __init__(self, *args, lazy=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy or {})

    def get(self, key: str):
        scope, real_key = self.split_scope_key(key)
        if (scope in (None, self.scope) and real_key in self._lazy
                and real_key not in self._module_dict):
            import_module(self._lazy[real_key])
        return super().get(key)

    def _register_module(self, module, module_name=None, force=False):
        names = [module.__name__] if module_name is None else module_name
        names = [names] if isinstance(names, str) else names
        parent = self.parent
        while parent is not None:
            parent.import_from_location()
            for name in names:
                if name in parent.module_dict:
                    raise KeyError(
                        f'mmscrl cannot register "{name}" in the '
                        f'"{self.name}" registry: scope "{parent.scope}" '
                        'already has it and '
                        'ours would shadow it under default_scope="mmscrl". '
                        'Pick a distinct name (see mmscrl/registry.py).')
            parent = parent.parent
        return super()._register_module(module, module_name, force)

    def import_from_location(self) -> None:
        """Also import the ancestors' locations.

        MMEngine's ``Registry.get`` falls back to a parent's *already
        imported* names only; importing mmpretrain's modules here makes e.g.
        ``UniversalVisualizer`` or ``CustomDataset`` resolvable under
        ``default_scope='mmscrl'`` without a prefix.
        """
        super().import_from_location()
        parent = self.parent
        while parent is not None:
            parent.import_from_location()
            parent = parent.parent


def _child(name: str, parent_attr: str, location: str):
    parent = getattr(mmpretrain_registry, parent_attr, None)
    if parent is None:  # mmpretrain has no FUNCTIONS registry
        from mmengine import registry as mmengine_registry
        parent = getattr(mmengine_registry, parent_attr)
    # a registry without locations would make MMEngine fall back to
    # ``mmscrl.utils.register_all_modules`` (all of mmscrl) on first use
    registry = ScopedRegistry(
        name,
        parent=parent,
        scope='mmscrl',
        locations=[location],
        lazy=LAZY_REGISTRATIONS.get(parent_attr))
    # MMEngine resolves 'scope.Name' from a foreign scope (e.g. 'mmscrl.SCRL'
    # in an mmdet config) only among the *direct* children of its root
    # registry. Ours hang below mmpretrain's, so also list them there; their
    # parent (for unprefixed fall-through to mmpretrain) is unchanged.
    root = parent._get_root_registry()
    root._children.setdefault('mmscrl', registry)
    return registry


RUNNERS = _child('runner', 'RUNNERS', 'mmscrl.engine')
RUNNER_CONSTRUCTORS = _child('runner constructor', 'RUNNER_CONSTRUCTORS',
                             'mmscrl.engine')
LOOPS = _child('loop', 'LOOPS', 'mmscrl.engine')
HOOKS = _child('hook', 'HOOKS', 'mmscrl.engine.hooks')
LOG_PROCESSORS = _child('log processor', 'LOG_PROCESSORS', 'mmscrl.engine')
OPTIMIZERS = _child('optimizer', 'OPTIMIZERS', 'mmscrl.engine')
OPTIM_WRAPPERS = _child('optim_wrapper', 'OPTIM_WRAPPERS', 'mmscrl.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    'OPTIM_WRAPPER_CONSTRUCTORS',
                                    'mmscrl.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', 'PARAM_SCHEDULERS',
                          'mmscrl.engine')
DATASETS = _child('dataset', 'DATASETS', 'mmscrl.datasets')
DATA_SAMPLERS = _child('data sampler', 'DATA_SAMPLERS', 'mmscrl.datasets')
TRANSFORMS = _child('transform', 'TRANSFORMS', 'mmscrl.datasets.transforms')
MODELS = _child('model', 'MODELS', 'mmscrl.models')
MODEL_WRAPPERS = _child('model_wrapper', 'MODEL_WRAPPERS', 'mmscrl.models')
WEIGHT_INITIALIZERS = _child('weight initializer', 'WEIGHT_INITIALIZERS',
                             'mmscrl.models')
TASK_UTILS = _child('task util', 'TASK_UTILS', 'mmscrl.models')
METRICS = _child('metric', 'METRICS', 'mmscrl.evaluation')
# nothing of mmscrl's is registered in these (yet): their location is this
# module, so that a lookup imports nothing else of mmscrl
EVALUATORS = _child('evaluator', 'EVALUATORS', __name__)
VISUALIZERS = _child('visualizer', 'VISUALIZERS', __name__)
VISBACKENDS = _child('vis_backend', 'VISBACKENDS', __name__)
FUNCTIONS = _child('function', 'FUNCTIONS', __name__)
