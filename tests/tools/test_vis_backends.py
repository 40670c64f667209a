# Copyright (c) mmscrl contributors. All rights reserved.
"""TensorBoard through mmengine's vis_backends, as documented in
docs/training.md (a two-line user config on top of a shipped one)."""
import glob
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_tensorboard_backend_logs_the_loss(tmp_path, random_image_dir):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    work = tmp_path / 'work'
    user_cfg = tmp_path / 'byol_tb.py'
    user_cfg.write_text(
        "_base_ = 'mmscrl::demo/byol_resnet18_1xb8-coslr-20i_demo.py'\n"
        "visualizer = dict(vis_backends=[\n"
        "    dict(type='LocalVisBackend'),\n"
        "    dict(type='TensorboardVisBackend')])\n")
    cmd = [
        sys.executable, osp.join(REPO, 'tools', 'train.py'), str(user_cfg),
        '--work-dir', str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={random_image_dir}',
        'train_cfg.max_iters=2', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2',
    ]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    events = glob.glob(str(work / '*' / 'vis_data' / 'events.out.*'))
    assert len(events) == 1, events
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert 'loss' in tags and 'lr' in tags, tags
    assert [e.step for e in acc.Scalars('loss')] == [1, 2]
