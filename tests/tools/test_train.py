# Copyright (c) mmscrl contributors. All rights reserved.
"""tools/train.py and tools/dist_train.sh with a real Runner on CPU."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

DEMO_CFG = 'configs/demo/byol_resnet18_1xb8-coslr-20i_demo.py'


def _run(cmd, cwd, env=None, timeout=600):
    full_env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    full_env.update(env or {})
    out = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, (out.stdout[-3000:] + out.stderr[-6000:])
    return out


@pytest.fixture
def restore_local_rank(monkeypatch):
    """parse_args exports --local-rank as LOCAL_RANK: undo it afterwards
    (a leaked LOCAL_RANK=1 would make later tests act as a rank-1 process).
    """
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.delenv('LOCAL_RANK')


def test_parse_args_flags(restore_local_rank):
    sys.path.insert(0, 'tools')
    from importlib import import_module
    train = import_module('train')
    args = train.parse_args([
        'x.py', '--work-dir', 'w', '--resume', '--amp', '--auto-scale-lr',
        '--launcher', 'pytorch', '--local-rank', '1', '--cfg-options', 'a=1'
    ])
    assert args.resume == 'auto' and args.amp and args.auto_scale_lr
    assert args.launcher == 'pytorch' and args.local_rank == 1
    assert args.cfg_options == {'a': 1}
    args = train.parse_args(['x.py', '--resume', 'ckpt.pth'])
    assert args.resume == 'ckpt.pth'


def test_dist_train_two_cpu_processes(tmp_path, repo_root, random_image_dir):
    """tools/dist_train.sh CFG 2 runs real gloo DDP and writes a checkpoint."""
    work = tmp_path / 'ddp'
    out = _run([
        'bash', 'tools/dist_train.sh', DEMO_CFG, '2', '--work-dir',
        str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={random_image_dir}',
        'train_cfg.max_iters=4', 'default_hooks.checkpoint.interval=4',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'
    ], cwd=repo_root, env=dict(PORT='29531'))
    log = out.stdout + out.stderr
    assert 'Distributed training is not used' not in log
    assert osp.isfile(work / 'iter_4.pth')
    ckpt = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    # mmengine's env info records the launcher and the world size
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log


def test_save_then_resume_with_stock_torch_load(tmp_path, repo_root,
                                                random_image_dir):
    """Resume from an mmengine checkpoint: the loaded state matches."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmscrl  # noqa: F401
    cfg = Config.fromfile(osp.join(repo_root, DEMO_CFG))
    cfg.work_dir = str(tmp_path / 'resume')
    cfg.train_dataloader.dataset.data_root = str(random_image_dir)
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg.max_iters = 4
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', T_max=8, by_epoch=False, begin=0,
             end=8)
    ]
    cfg.default_hooks.checkpoint.interval = 4
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    saved_state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    saved_opt = runner.optim_wrapper.state_dict()
    ckpt_path = osp.join(cfg.work_dir, 'iter_4.pth')
    assert osp.isfile(ckpt_path)

    cfg2 = cfg.copy()
    cfg2.train_cfg.max_iters = 8
    cfg2.resume = True
    cfg2.load_from = ckpt_path
    cfg2.experiment_name = 'resumed'
    runner2 = Runner.from_cfg(cfg2)
    runner2.load_or_resume()  # torch.load with its default weights_only=True
    assert runner2.iter == 4
    for k, v in runner2.model.state_dict().items():
        torch.testing.assert_close(v, saved_state[k], msg=k)
    opt2 = runner2.optim_wrapper.state_dict()
    assert opt2['param_groups'][0]['lr'] == pytest.approx(
        saved_opt['param_groups'][0]['lr'])
    m1 = saved_opt['state'][0]['momentum_buffer']
    torch.testing.assert_close(opt2['state'][0]['momentum_buffer'], m1)
    hub = runner2.message_hub
    assert hub.get_scalar('train/loss').current() is not None
    # and training continues from there
    runner2.train()
    assert runner2.iter == 8


def test_resume_path_must_be_complete(tmp_path):
    sys.path.insert(0, 'tools')
    from importlib import import_module
    train = import_module('train')
    import mmscrl  # noqa: F401
    train.check_resume_checkpoint(None)
    train.check_resume_checkpoint('auto')
    good = tmp_path / 'iter_2.pth'
    torch.save({'state_dict': {'w': torch.ones(3)}}, good)
    train.check_resume_checkpoint(str(good))
    bad = tmp_path / 'iter_4.pth'
    bad.write_bytes(good.read_bytes()[:100])
    for path, why in ((bad, 'truncated \\(100 bytes\\)'),
                      (tmp_path / 'none.pth', 'does not exist')):
        with pytest.raises(FileNotFoundError, match=f'{path.name}.*{why}'):
            train.check_resume_checkpoint(str(path))
        with pytest.raises(FileNotFoundError, match=path.name):
            train.main(['configs/demo/byol_resnet18_1xb8-coslr-20i_demo.py',
                        '--resume', str(path)])


@pytest.mark.parametrize('field', ['train_dataloader', 'val_dataloader'])
def test_cfg_options_num_workers_zero_turns_off_persistent_workers(
        field, repo_root, load_tool):
    """Issue 21 item 19: the final num_workers (after --cfg-options)
    decides; persistent_workers=True with 0 workers is a torch error."""
    from mmengine.config import Config
    train = load_tool('train.py')
    cfg_path = osp.join(repo_root, 'configs/demo/'
                        'faster-rcnn_r18_fpn_1xb8-300i_demo.py')
    cfg = Config.fromfile(cfg_path)
    assert cfg[field].num_workers > 0 and cfg[field].persistent_workers
    args = train.parse_args(
        [cfg_path, '--cfg-options', f'{field}.num_workers=0'])
    cfg = train.merge_args(cfg, args)
    assert cfg[field].num_workers == 0
    assert cfg[field].persistent_workers is False
    torch.utils.data.DataLoader(
        [0], num_workers=cfg[field].num_workers,
        persistent_workers=cfg[field].persistent_workers)
    # with workers, the tool's default stays on; the flags still win
    cfg = train.merge_args(Config.fromfile(osp.join(repo_root, DEMO_CFG)),
                           train.parse_args([DEMO_CFG]))
    assert cfg.train_dataloader.persistent_workers is True
    args = train.parse_args([
        DEMO_CFG, '--no-persistent-workers', '--no-pin-memory',
        '--cfg-options', 'train_dataloader.pin_memory=True'
    ])
    cfg = train.merge_args(Config.fromfile(osp.join(repo_root, DEMO_CFG)),
                           args)
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.train_dataloader.pin_memory is False
