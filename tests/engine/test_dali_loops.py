# Copyright (c) mmscrl contributors. All rights reserved.
"""The DALI train loops: a shipped config trains through the Runner with
``train_cfg.type`` switched (DALI CPU operators; skipped without DALI)."""
import os.path as osp

import cv2
import numpy as np
import pytest

import mmscrl  # noqa: F401
from mmscrl.engine import dali_loops

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_SCRL = osp.join(REPO, 'configs', 'demo',
                     'scrl_resnet18_1xb32-coslr-500i_demo.py')


def test_missing_dali_is_named(monkeypatch):
    import mmscrl.datasets.dali_loader as dl
    monkeypatch.setattr(dl, 'dali_available', lambda: False)
    with pytest.raises(ImportError, match=r'pip install -e \.\[dali\]'):
        dali_loops.build_dali_loader(None, dict(batch_size=2))


def _runner(tmp_path, train_cfg):
    pytest.importorskip('nvidia.dali')
    from mmengine.config import Config
    from mmengine.runner import Runner
    root = tmp_path / 'data'
    (root / 'unlabeled').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        img = cv2.GaussianBlur(
            rng.integers(0, 256, (120, 150 + 4 * i, 3), dtype=np.uint8),
            (0, 0), 3)
        cv2.imwrite(str(root / 'unlabeled' / f'{i}.jpg'), img)
    cfg = Config.fromfile(DEMO_SCRL)
    cfg.train_dataloader.dataset.data_root = str(root)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.custom_hooks = []  # no box-kNN monitor (no annotations here)
    cfg.train_cfg = train_cfg
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=3)
    return Runner.from_cfg(cfg)


def test_iter_loop_trains_a_shipped_config(tmp_path):
    runner = _runner(tmp_path, dict(type='DALIIterBasedTrainLoop',
                                    max_iters=2,
                                    dali=dict(num_threads=1, device='cpu')))
    from mmscrl.datasets.dali_loader import DALITwoViewLoader
    runner.train()
    loader = runner.train_loop.dataloader
    assert isinstance(loader, DALITwoViewLoader) and loader.device == 'cpu'
    assert loader.batch_size == 2 and loader.seed == 3
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0


def test_epoch_loop_sets_each_epoch(tmp_path, monkeypatch):
    from mmscrl.datasets.dali_loader import DALITwoViewLoader
    epochs = []
    original = DALITwoViewLoader.set_epoch

    def spy(self, epoch):
        epochs.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(DALITwoViewLoader, 'set_epoch', spy)
    runner = _runner(tmp_path, dict(type='DALIEpochBasedTrainLoop',
                                    max_epochs=2,
                                    dali=dict(num_threads=1, device='cpu')))
    runner.train()
    assert epochs == [0, 1]
    assert runner.epoch == 2 and runner.iter == 6  # 6 images, batch 2
