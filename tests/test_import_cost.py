# Copyright (c) mmscrl contributors. All rights reserved.
"""``import mmscrl`` is cheap, and nothing it defers is lost (issue 22,
item 4): every class is still found through its registry, and every
:mod:`mmscrl.compat` fix is in place once the module it repairs is
imported, whatever the import order. See :mod:`mmscrl._lazy`.

Each check runs in a fresh interpreter (what is imported is the point),
from a folder outside the repository.
"""
import json
import subprocess
import sys
import textwrap

import pytest

#: what ``import mmscrl`` must not import (torch and the OpenMMLab stack,
#: plotting, OpenCV)
HEAVY = ('torch', 'torchvision', 'numpy', 'cv2', 'mmengine', 'mmcv',
         'mmpretrain', 'mmpretrain.models', 'mmdet', 'mmseg', 'matplotlib',
         'scipy', 'nvidia.dali')


def _run(code: str, cwd) -> str:
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                         cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout.strip().splitlines()[-1]


def test_import_mmscrl_imports_nothing_heavy(tmp_path):
    loaded = json.loads(
        _run(
            f"""
            import json, sys
            import mmscrl
            assert mmscrl.__version__
            print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
            """, tmp_path))
    assert loaded == []


@pytest.fixture(scope='module')
def registered(tmp_path_factory):
    """What a fresh process finds through the registries, then what
    importing every mmscrl module registers (one process)."""
    return json.loads(
        _run(
            """
            import importlib, json, pkgutil, sys
            import mmscrl.registry as R
            from mmengine.registry import DefaultScope
            from mmscrl._lazy import LAZY_REGISTRATIONS
            out = {}
            # another dataset's lookup does not import mmdet's subclass
            assert R.DATASETS.get('ORLDataset') is not None
            out['coco_module_early'] = (
                'mmscrl.datasets.coco_detection' in sys.modules)
            found = {}
            for attr in R.__all__:
                registry = getattr(R, attr)
                registry.import_from_location()
                lazy = LAZY_REGISTRATIONS.get(attr, {})
                found[attr] = sorted(
                    n for n in {*registry.module_dict, *lazy}
                    if registry.get(n) is not None)
            import mmdet.registry as D
            with DefaultScope.overwrite_default_scope('mmdet'):
                foreign = D.DATASETS.get('mmscrl.CheckedCocoDataset')
            import mmscrl.datasets
            cls = R.DATASETS.get('CheckedCocoDataset')
            out['same_class'] = (foreign is cls
                                 and mmscrl.datasets.CheckedCocoDataset is cls)
            out['in_dir'] = 'CheckedCocoDataset' in dir(mmscrl.datasets)
            out['found'] = found
            import mmscrl
            for m in pkgutil.walk_packages(mmscrl.__path__, 'mmscrl.'):
                importlib.import_module(m.name)
            out['all'] = {a: sorted(getattr(R, a).module_dict)
                          for a in R.__all__}
            from mmdet.utils import register_all_modules
            register_all_modules(init_default_scope=False)
            out['mmdet_clash'] = sorted(
                n for a, names in LAZY_REGISTRATIONS.items() for n in names
                if n in getattr(D, a).module_dict)
            print(json.dumps(out))
            """, tmp_path_factory.mktemp('registry')))


def test_every_registered_class_is_found_lazily(registered):
    """``get`` finds every class that any mmscrl module registers, through
    the registry's ``locations`` or ``LAZY_REGISTRATIONS`` (a class
    registered anywhere else would be missed by configs); mmdet's
    registries reach the lazily registered class as ``mmscrl.<Name>``; a
    lookup of another dataset does not import it."""
    assert sum(map(len, registered['all'].values())) > 20
    missing = {
        a: sorted(set(names) - set(registered['found'][a]))
        for a, names in registered['all'].items()
    }
    assert not any(missing.values()), missing
    assert registered['same_class'] and registered['in_dir']
    assert registered['coco_module_early'] is False


def test_lazy_registrations_are_exact(registered):
    """``LAZY_REGISTRATIONS`` names classes registered in that registry;
    their names clash with nothing of mmdet's (the check
    ``tests/test_registry.py`` makes for the other names)."""
    from mmscrl._lazy import LAZY_REGISTRATIONS
    for attr, names in LAZY_REGISTRATIONS.items():
        for name, module in names.items():
            assert name in registered['all'][attr], (attr, name)
            assert module.startswith('mmscrl.')
    assert registered['mmdet_clash'] == []


def test_every_compat_fix_has_a_trigger():
    from mmscrl import _lazy, compat
    assert set(_lazy.COMPAT_TRIGGERS) == {fn.__name__ for fn, _ in
                                          compat.PATCHES}


_STATE = """
    def state():
        compat = sys.modules.get('mmscrl.compat')
        return sorted(compat._APPLIED | set(compat.SKIPPED)) if compat else []
"""


@pytest.mark.parametrize('order', ['mmscrl_first', 'compat_first'])
def test_compat_fixes_applied_in_any_import_order(order, tmp_path):
    """Each fix is applied (or skipped by its version gate) as soon as the
    module it repairs is imported, before any use of it. ``torch`` is first
    imported by the user after ``import mmscrl`` (then plain ``torch.load``
    reads an mmengine checkpoint without mmengine imported by the user), or
    half-way through importing ``mmscrl.compat``; ``mmcv.transforms``
    half-way through ``mmcv``: there a fix waits for the end of that
    import. (Modules imported before ``mmscrl`` are patched at ``import
    mmscrl``: the order of most tests.)"""
    import numpy as np
    import torch
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(np.float64(1.5))
    torch.save(dict(h=buf, s=np.int64(3)), str(tmp_path / 'ck.pth'))
    code = {
        'mmscrl_first': """
            import mmscrl
            assert state() == []
            import torch
            assert state() == ['patch_torch_load_safe_globals'], state()
            ck = torch.load('ck.pth')
            assert ck['h'].current() == 1.5 and int(ck['s']) == 3
            import mmengine.runner
            import mmcv
        """,
        'compat_first': """
            from mmscrl import compat
            assert state() == ['patch_torch_load_safe_globals'], state()
            import mmengine.runner, mmcv
        """,
    }[order]
    out = json.loads(
        _run(
            'import json, sys\n' + textwrap.dedent(_STATE) +
            textwrap.dedent(code) + textwrap.dedent("""
            from mmscrl import _lazy, compat
            from mmcv.transforms import LoadImageFromFile
            from mmengine.fileio.backends.local_backend import LocalBackend
            print(json.dumps(dict(
                state=state(), all=sorted(_lazy.COMPAT_TRIGGERS),
                put=LocalBackend.put.__module__,
                load=hasattr(LoadImageFromFile.transform, '__wrapped__'))))
            """), tmp_path))
    assert out['state'] == out['all']
    # the patched functions are in place (not just recorded)
    assert out['put'] == 'mmscrl.compat'
    assert out['load'] is True
