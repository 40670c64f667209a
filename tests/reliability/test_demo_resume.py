# Copyright (c) mmscrl contributors. All rights reserved.
"""A demo stage killed mid-way resumes from its last checkpoint."""
import glob
import json
import os
import os.path as osp

import pytest
from demo_workflow import (PENDING_FILE, STAGE_FILE, pretrain_config,
                           remove_demo_work_dir, run_train, stage_folder,
                           write_results)

from mmscrl.compat import checkpoint_is_complete

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
SCRL_DEMO = osp.join(REPO, 'configs', 'demo',
                     'scrl_resnet18_1xb32-coslr-500i_demo.py')


def _cfg(data_root):
    cfg = pretrain_config(SCRL_DEMO, data_root, max_iters=3, batch_size=2,
                          num_workers=0)
    # 64 px demo images: smaller views and boxes than the 128 px demo
    for view in cfg.train_dataloader.dataset.pipeline[1].transforms:
        view[0].scale = 64
    cfg.train_dataloader.dataset.pipeline[2].min_size = 16
    cfg.default_hooks.logger.interval = 1
    return cfg


def test_interrupted_stage_resumes_mid_way(tmp_path, tiny_demo_data):
    work = str(tmp_path / 'pretrain')
    settings = dict(test='resume')
    cfg = _cfg(tiny_demo_data)
    assert cfg.default_hooks.checkpoint.interval == 1  # 5 saves, 3 iters
    killed = cfg.copy()
    killed.custom_imports = dict(imports=['_kill_on_write'],
                                 allow_failed_imports=False)
    env = {'MMSCRL_TEST_KILL_WRITING': 'iter_3.pth',
           'PYTHONPATH': HERE + os.pathsep + os.environ.get('PYTHONPATH', '')}
    with pytest.raises(RuntimeError, match='exit -9'):
        run_train(killed, work, settings, extra_env=env)
    assert not osp.exists(osp.join(work, STAGE_FILE))
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'iter_2.pth'
    assert checkpoint_is_complete(osp.join(work, 'iter_2.pth'))

    rec = run_train(cfg, work, settings)  # the rerun resumes
    assert not rec['reused']
    assert osp.basename(rec['checkpoint']) == 'iter_3.pth'
    logs = sorted(glob.glob(osp.join(work, '*', '*.log')))
    assert 'resumed epoch: 0, iter: 2' in open(logs[-1]).read()
    scalars = sorted(glob.glob(osp.join(work, '*', 'vis_data',
                                        'scalars.json')))
    iters = [json.loads(line)['iter'] for line in open(scalars[-1])
             if '"loss"' in line]
    assert iters == [3]  # only the iteration the kill lost
    assert [osp.basename(p) for p in glob.glob(osp.join(work, '*.pth'))] \
        == ['iter_3.pth']
    assert run_train(cfg, work, settings)['reused']
    # everything the two training runs wrote is recorded as the stage's
    assert stage_folder(work).foreign() == []


def test_foreign_work_dir_is_never_deleted(tmp_path):
    work = tmp_path / 'mine'
    work.mkdir()
    (work / 'thesis.tex').write_text('x')
    with pytest.raises(FileExistsError, match='not a demo stage'):
        run_train(None, str(work), dict(a=1))
    with pytest.raises(FileExistsError, match='entries the demo did not'):
        remove_demo_work_dir(str(tmp_path))
    assert (work / 'thesis.tex').read_text() == 'x'
    # what the demo recorded as its own (a stage, the results) is removed;
    # look-alikes made by hand are not (issue 21, item 6)
    stage = tmp_path / 'stage'
    stage.mkdir()
    (stage / PENDING_FILE).write_text('{}')
    (work / 'thesis.tex').unlink()
    work.rmdir()
    with pytest.raises(FileExistsError,
                       match='stage/ .a folder the demo did not write'):
        remove_demo_work_dir(str(tmp_path))
    assert (stage / PENDING_FILE).is_file()
    stage_folder(str(stage)).claim(PENDING_FILE)
    write_results([], str(tmp_path), {})
    remove_demo_work_dir(str(tmp_path))
    assert os.listdir(tmp_path) == []
