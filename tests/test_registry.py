# Copyright (c) mmscrl contributors. All rights reserved.
"""The three ways to reach mmscrl classes, and the name-clash rule."""
import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl import registry as R


def test_default_scope_resolves_upstream_names():
    """default_scope='mmscrl' resolves mmpretrain and mmengine names."""
    with DefaultScope.overwrite_default_scope('mmscrl'):
        assert R.MODELS.get('ResNet').__module__.startswith('mmpretrain')
        assert R.MODELS.get('NonLinearNeck').__module__.startswith(
            'mmpretrain')
        assert R.MODELS.get('CosineEMA').__module__.startswith('mmpretrain')
        assert R.OPTIMIZERS.get('LARS').__module__.startswith('mmpretrain')
        assert R.OPTIM_WRAPPERS.get('OptimWrapper').__module__.startswith(
            'mmengine')
        assert R.HOOKS.get('CheckpointHook').__module__.startswith('mmengine')
        # names only mmpretrain's lazily imported modules register
        assert R.VISUALIZERS.get('UniversalVisualizer') is not None
        assert R.DATASETS.get('CustomDataset') is not None
        resnet = R.MODELS.build(dict(type='ResNet', depth=18))
        assert type(resnet).__name__ == 'ResNet'


def _our_names(registry):
    registry.import_from_location()
    return sorted(registry.module_dict)


def test_mmscrl_has_registered_classes():
    assert _our_names(R.MODELS), 'no model registered in the mmscrl scope'
    assert _our_names(R.TRANSFORMS), 'no transform registered'


@pytest.mark.parametrize('name', _our_names(R.MODELS))
def test_scoped_name_from_another_project(name):
    """A config of another project reaches ours as 'mmscrl.<Name>'."""
    cfg = Config(
        dict(
            default_scope='mmdet',
            custom_imports=dict(imports=['mmscrl'],
                                allow_failed_imports=False)))
    from mmdet.registry import MODELS as MMDET_MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert MMDET_MODELS.get(f'mmscrl.{name}') is R.MODELS.get(name)


def test_custom_imports_in_fresh_process(tmp_path):
    """Full path: a foreign config file with custom_imports and a scoped
    type."""
    cfg_file = tmp_path / 'foreign.py'
    name = _our_names(R.MODELS)[0]
    cfg_file.write_text(
        textwrap.dedent(f"""
        default_scope = 'mmpretrain'
        custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)
        thing = dict(type='mmscrl.{name}')
        """))
    code = textwrap.dedent(f"""
        from mmengine.config import Config
        from mmengine.registry import DefaultScope
        cfg = Config.fromfile({str(cfg_file)!r})
        from mmpretrain.registry import MODELS
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            cls = MODELS.get(cfg.thing['type'])
        assert cls.__module__.startswith('mmscrl'), cls
        print('OK', cls.__name__)
        """)
    out = subprocess.run([sys.executable, '-c', code],
                         cwd=tmp_path,
                         capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'OK' in out.stdout


def test_clash_with_upstream_name_is_refused():
    with pytest.raises(KeyError, match='already has it'):

        @R.MODELS.register_module(name='ResNet')
        class Dummy:  # noqa: F811
            pass

    with pytest.raises(KeyError, match='already has it'):

        @R.TRANSFORMS.register_module()
        class MultiView:  # noqa: F811
            pass

    assert 'ResNet' not in R.MODELS.module_dict
    assert 'MultiView' not in R.TRANSFORMS.module_dict


@pytest.mark.parametrize('reg_name', [
    'MODELS', 'TRANSFORMS', 'DATASETS', 'HOOKS', 'METRICS', 'OPTIMIZERS'
])
def test_no_clash_with_mmdet(reg_name):
    """Our names are distinct from mmdet's too (transfer configs mix
    scopes)."""
    import mmdet.registry as D
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    ours = set(_our_names(getattr(R, reg_name)))
    theirs = set(getattr(D, reg_name).module_dict)
    assert not ours & theirs, f'clashes with mmdet: {sorted(ours & theirs)}'


@pytest.mark.parametrize('registry, package, has_all', [
    (R.MODELS, 'mmscrl.models', True),
    (R.WEIGHT_INITIALIZERS, 'mmscrl.models', True),
    (R.DATASETS, 'mmscrl.datasets', True),
    (R.TRANSFORMS, 'mmscrl.datasets', True),
    (R.HOOKS, 'mmscrl.engine', False),
])
def test_registered_classes_are_exported(registry, package, has_all):
    """Every class of the mmscrl scope is an attribute of its subpackage
    (``mmscrl.models.SCRL``, ``mmscrl.datasets.ORLDataset``, ...) and in
    its ``__all__``."""
    import importlib
    module = importlib.import_module(package)
    names = _our_names(registry)
    assert names, f'nothing registered in {registry.name}'
    for name in names:
        assert getattr(module, name, None) is registry.module_dict[name], (
            f'{package}.{name} is not the registered class')
        if has_all:
            assert name in module.__all__, f'{name} not in {package}.__all__'


def test_public_names():
    from mmscrl.datasets import ORLDataset
    from mmscrl.models import ORL, SCRL, DenseCLOfficial
    assert {SCRL.__name__, ORL.__name__, DenseCLOfficial.__name__,
            ORLDataset.__name__} == {'SCRL', 'ORL', 'DenseCLOfficial',
                                     'ORLDataset'}
    assert {'datasets', 'engine', 'models'} <= set(mmscrl.__all__)
