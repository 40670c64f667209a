# Copyright (c) mmscrl contributors. All rights reserved.
"""Issue 21 item 12: a misspelt top-level config key is reported."""
import glob
import os.path as osp
import warnings

import pytest
from mmengine.config import Config

from mmscrl.utils.config_check import (RUNNER_KEYS, suggest_key,
                                       unknown_top_level_keys,
                                       warn_unknown_top_level_keys)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo',
                'byol_resnet18_1xb8-coslr-20i_demo.py')
DET = osp.join(REPO, 'configs', 'demo',
               'faster-rcnn_r18_fpn_1xb8-300i_demo.py')
SHIPPED = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True))


def _misspelt_config(tmp_path, base=DEMO):
    path = tmp_path / 'my_cfg.py'
    path.write_text(f'_base_ = {base!r}\n'
                    'trian_cfg = dict(max_iters=1)\n'
                    '_my_private = 3\n'
                    'my_own_helper_thing = 1\n')
    return str(path)


def test_runner_keys_cover_from_cfg():
    """Every key mmengine's Runner.from_cfg reads is known."""
    import inspect
    import re

    from mmengine.runner import Runner
    src = inspect.getsource(Runner.from_cfg)
    read = set(re.findall(r"cfg(?:\.get\(|\[)'(\w+)'", src))
    assert read and read <= RUNNER_KEYS, read - RUNNER_KEYS


def test_misspelt_key_is_reported_with_suggestion(tmp_path):
    cfg = Config.fromfile(_misspelt_config(tmp_path))
    assert unknown_top_level_keys(cfg) == ['my_own_helper_thing',
                                           'trian_cfg']
    assert suggest_key('trian_cfg') == 'train_cfg'
    assert suggest_key('my_own_helper_thing') is None
    with pytest.warns(UserWarning) as rec:
        assert warn_unknown_top_level_keys(cfg) == [
            'my_own_helper_thing', 'trian_cfg']
    msgs = [str(w.message) for w in rec]
    assert any("'trian_cfg'" in m and "did you mean 'train_cfg'" in m
               and 'my_cfg.py' in m for m in msgs)
    assert unknown_top_level_keys(cfg, extra=['my_own_helper_thing']) == [
        'trian_cfg']


@pytest.mark.parametrize('config', SHIPPED)
def test_no_shipped_config_is_reported(config):
    cfg = Config.fromfile(osp.join(REPO, config))
    assert unknown_top_level_keys(cfg) == []


def test_train_tool_warns_after_merging_options(tmp_path, monkeypatch,
                                                load_tool):
    train = load_tool('train.py')
    args = train.parse_args([_misspelt_config(tmp_path), '--cfg-options',
                             'traim_dataloader.batch_size=2'])
    cfg = Config.fromfile(args.config)
    with pytest.warns(UserWarning) as rec:
        train.merge_args(cfg, args)
    msgs = ' '.join(str(w.message) for w in rec)
    assert "'trian_cfg'" in msgs and "'traim_dataloader'" in msgs
    assert "did you mean 'train_dataloader'" in msgs
    # a correct config: no such warning
    args = train.parse_args([DEMO])
    with warnings.catch_warnings():
        warnings.filterwarnings('error', message='.*top-level key')
        train.merge_args(Config.fromfile(DEMO), args)


def test_test_tool_warns_after_merging_options(tmp_path, load_tool):
    test_tool = load_tool('test.py')
    args = test_tool.parse_args([
        _misspelt_config(tmp_path, base=DET), 'c.pth', '--cfg-options',
        'tset_evaluator.ann_file=x.json'
    ])
    with pytest.warns(UserWarning) as rec:
        test_tool.build_test_config(args)
    msgs = ' '.join(str(w.message) for w in rec)
    assert "'trian_cfg'" in msgs and "'tset_evaluator'" in msgs
    assert "did you mean 'test_evaluator'" in msgs
