# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl.compat on the GPU kit's stack: mmcv-lite (the ``mmcv`` package
under another distribution name) and numpy 2 (mmcv 2.1.0's adjust_hue)."""
from importlib import metadata

import numpy as np
import pytest
from packaging.version import Version

import mmscrl  # noqa: F401
from mmscrl import compat


def test_mmcv_version_without_an_mmcv_distribution(monkeypatch):
    """With mmcv-lite, ``metadata.version('mmcv')`` raises; the version
    gates must still read mmcv's version: from the mmcv-lite distribution,
    else from the package itself."""
    import mmcv.version
    real = metadata.version
    dists = {'mmcv-lite': '2.1.0'}

    def version(name):
        if name in ('mmcv', 'mmcv-lite'):
            if name not in dists:
                raise metadata.PackageNotFoundError(name)
            return dists[name]
        return real(name)

    monkeypatch.setattr(compat.metadata, 'version', version)
    assert compat.package_version('mmcv') == Version('2.1.0')
    dists.clear()  # mmcv on sys.path without any distribution metadata
    monkeypatch.setattr(mmcv.version, '__version__', '2.0.1')
    assert compat.package_version('mmcv') == Version('2.0.1')
    # every gate with an mmcv range can be evaluated: import mmscrl works
    for _, requires in compat.PATCHES:
        compat.version_gate(requires)


def _hue_gate():
    gates = {fn.__name__: req for fn, req in compat.PATCHES}
    return gates['patch_mmcv_adjust_hue']


@pytest.mark.parametrize('numpy_ver,mmcv_ver,applied', [
    ('2.5.5', '2.1.0', True),   # the GPU machine's / simulated stack
    ('2.0.0', '2.1.0', True),
    ('1.26.4', '2.1.0', False),  # the tested dev stack: mmcv's own works
    ('2.5.5', '2.2.1', False),  # newer mmcv: re-check before patching
])
def test_adjust_hue_gate(numpy_ver, mmcv_ver, applied):
    vers = dict(numpy=numpy_ver, mmcv=mmcv_ver)
    ok, _ = compat.version_gate(_hue_gate(), lambda n: Version(vers[n]))
    assert ok is applied


@pytest.mark.parametrize('hue', [-0.5, -0.25, -0.01, 0.2])
@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_patched_adjust_hue_runs_and_rotates_the_hue(hue, backend):
    """The replacement that numpy 2 gets: negative hues work, and the hue
    channel moves by ``hue * 255`` (mod 256) while S and V stay."""
    import cv2
    rng = np.random.default_rng(0)
    # saturated, bright colours: the HSV round trip is near-exact
    hsv = np.stack([rng.integers(0, 256, (9, 7)),
                    np.full((9, 7), 255), np.full((9, 7), 255)],
                   -1).astype(np.uint8)
    img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)
    with np.errstate(over='raise'):
        out = compat._adjust_hue_numpy2(img, hue, backend=backend)
    assert out.shape == img.shape and out.dtype == np.uint8
    h_in = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)[..., 0].astype(int)
    h_out = cv2.cvtColor(out, cv2.COLOR_BGR2HSV_FULL)[..., 0].astype(int)
    shift = int(hue * 255) % 256
    diff = (h_out - h_in - shift) % 256
    diff = np.minimum(diff, 256 - diff)
    assert diff.max() <= 3


def test_numpy2_stack_has_the_fix_installed():
    """Where the gate holds (numpy 2), ``mmcv.adjust_hue`` is the fix."""
    import mmcv
    ok, _ = compat.version_gate(_hue_gate())
    if not ok:
        pytest.skip('numpy 1.x: mmcv.adjust_hue is mmcv\'s own')
    assert mmcv.adjust_hue is compat._adjust_hue_numpy2
    out = mmcv.adjust_hue(np.full((4, 4, 3), 90, np.uint8), -0.25)
    assert out.shape == (4, 4, 3)
