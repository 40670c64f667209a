# Copyright (c) mmscrl contributors. All rights reserved.
"""Each fix in mmscrl.compat, tested against the behaviour it repairs."""
import pickle
import textwrap

import numpy as np
import pytest
import torch

import mmscrl  # noqa: F401
from mmscrl import compat


@pytest.mark.parametrize('hue',
                         [-0.5, -0.31, -0.1, -0.004, 0., 0.05, 0.37, 0.5])
@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_adjust_hue_replacement_matches_mmcv_numpy1(hue, backend):
    """Under numpy 1.x mmcv's own adjust_hue works: ours must equal it."""
    import mmcv.image.photometric as photometric
    if int(np.__version__.split('.')[0]) >= 2:
        pytest.skip('reference needs numpy 1.x')
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    expected = photometric.adjust_hue(img, hue, backend=backend)
    ours = compat._adjust_hue_numpy2(img, hue, backend=backend)
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize('hue', [-0.5, -0.2, -0.004, 0.3])
def test_hue_shift_never_overflows(hue):
    with np.errstate(all='raise'):
        shift = compat._hue_shift_uint8(hue)
    assert shift.dtype == np.uint8
    assert int(shift) == int(hue * 255) % 256


def test_adjust_hue_rejects_bad_input():
    with pytest.raises(ValueError, match='hue_factor'):
        compat._adjust_hue_numpy2(np.zeros((2, 2, 3), np.uint8), 0.7)


def _mmengine_like_checkpoint():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('compat_test')
    for i in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 / (i + 1)))
        hub.update_scalar('train/lr', 0.1 * i)
    return dict(
        meta=dict(epoch=1, iter=3, seed=np.int64(7)),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict())


def test_mmengine_checkpoint_loads_with_stock_torch_defaults(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(_mmengine_like_checkpoint(), path)
    loaded = torch.load(path)  # weights_only=True is torch's default
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert buf.current() == pytest.approx(1 / 3)
    assert buf.mean() == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert int(loaded['meta']['seed']) == 7


class _Evil:

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_stand_in_refuses_other_objects(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    with pytest.raises(pickle.UnpicklingError):
        compat._history_buffer_getattr(np.ndarray, 'tofile')
    from mmengine.logging.history_buffer import HistoryBuffer
    with pytest.raises(pickle.UnpicklingError):
        compat._history_buffer_getattr(HistoryBuffer, '__init__')
    assert compat._history_buffer_getattr(HistoryBuffer,
                                          'mean') is HistoryBuffer.mean


def test_collate_fn_scope_from_mmpretrain_base(tmp_path, random_image_dir):
    """A config inheriting mmpretrain:: bases builds a working dataloader."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg_file = tmp_path / 'inherits_mmpretrain.py'
    cfg_file.write_text(
        textwrap.dedent(f"""
        _base_ = 'mmpretrain::_base_/datasets/imagenet_bs32_mocov2.py'
        train_dataloader = dict(
            batch_size=4, num_workers=0, persistent_workers=False,
            dataset=dict(_delete_=True, type='CustomDataset',
                         data_root={str(random_image_dir)!r},
                         pipeline={{{{_base_.train_pipeline}}}},
                         ann_file='', data_prefix='unlabeled',
                         with_label=False))
        """))
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.train_dataloader.collate_fn.get('_scope_') == 'mmpretrain'
    loader = Runner.build_dataloader(cfg.train_dataloader)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 2
    assert batch['inputs'][0].shape == (4, 3, 224, 224)


def test_ddp_wrapper_accepts_cpu_module_with_device_ids(monkeypatch):
    """mmengine passes device_ids=[LOCAL_RANK]; torch rejects that on CPU."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    if dist.is_initialized():
        pytest.skip('process group already initialized')
    store = dist.HashStore()
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    try:
        model = torch.nn.Sequential(torch.nn.Linear(3, 3),
                                    torch.nn.SyncBatchNorm(3))
        ddp = MMDistributedDataParallel(module=model, device_ids=[0])
        assert not any(
            isinstance(m, torch.nn.SyncBatchNorm) for m in ddp.modules())
        out = ddp(torch.randn(4, 3))
        assert out.shape == (4, 3)
    finally:
        dist.destroy_process_group()


def test_version_gate_ranges():
    from packaging.version import Version
    vers = dict(mmengine='0.10.7', torch='2.14.1')

    def version_of(name):
        return Version(vers[name])

    assert compat.version_gate(dict(mmengine=('0.7.0', '0.10.7')),
                               version_of) == (True, '')
    ok, why = compat.version_gate(dict(mmengine=(None, '0.10.6')),
                                  version_of)
    assert not ok and why.startswith('newer: mmengine 0.10.7')
    ok, why = compat.version_gate(dict(torch=('2.15', None)), version_of)
    assert not ok and why.startswith('older: torch')
    # local version labels (2.14.1+cu130) are ignored
    assert compat.package_version('torch') >= Version('2.6')


def test_every_patch_is_version_gated():
    assert compat.PATCHES, 'no fix registered'
    for fn, requires in compat.PATCHES:
        assert requires, f'{fn.__name__} has no version range'
        for pkg, (low, high) in requires.items():
            assert low is not None or high is not None, (fn.__name__, pkg)
    names = {fn.__name__ for fn, _ in compat.PATCHES}
    assert names >= {
        'patch_torch_load_safe_globals', 'patch_mmcv_adjust_hue',
        'patch_runner_collate_scope', 'patch_cpu_distributed',
        'patch_atomic_checkpoints', 'patch_load_image_named_error'
    }


def test_patch_outside_its_range_is_skipped(monkeypatch):
    from packaging.version import Version
    calls = []

    def patch_fake():
        calls.append(1)

    monkeypatch.setattr(
        compat, 'PATCHES',
        [(patch_fake, dict(mmengine=('0.7.0', '0.10.7')))])
    monkeypatch.setattr(compat, 'SKIPPED', {})
    with pytest.warns(UserWarning, match='patch_fake not applied.*newer'):
        compat.apply_all(lambda name: Version('0.11.0'))
    assert calls == [] and 'patch_fake' in compat.SKIPPED
    compat.apply_all(lambda name: Version('0.6.0'))  # older: silent
    assert calls == []
    compat.apply_all(lambda name: Version('0.10.7'))
    assert calls == [1]


def test_unreadable_image_error_names_the_file(tmp_path):
    from mmcv.transforms import LoadImageFromFile
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    garbage = tmp_path / 'garbage.jpg'
    garbage.write_bytes(b'not a jpeg at all')
    for path, size in ((empty, '0 bytes'), (garbage, '17 bytes')):
        with pytest.raises(compat.ImageLoadError,
                           match=f'{path.name} \\({size}\\)'):
            LoadImageFromFile()(dict(img_path=str(path)))
    assert LoadImageFromFile(ignore_empty=True)(
        dict(img_path=str(empty))) is None
