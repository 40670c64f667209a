# Copyright (c) mmscrl contributors. All rights reserved.
"""tools/analysis_tools/box_knn_eval.py on the demo data."""
import importlib.util
import json
import os.path as osp

import pytest
import torch

from mmscrl.demo.generator import generate_demo_dataset
from mmscrl.evaluation.checkpoint_eval import (build_backbone,
                                               evaluate_backbone,
                                               load_detection_set)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    '_box_knn_eval', osp.join(REPO, 'tools', 'analysis_tools',
                              'box_knn_eval.py'))
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('tool') / 'demo'
    generate_demo_dataset(str(root), num_unlabeled=0, num_train=6,
                          num_val=3, img_size=64)
    return str(root)


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    from mmpretrain.models import ResNet
    torch.manual_seed(1)
    net = ResNet(depth=18)
    state = {f'backbone.{k}': v for k, v in net.state_dict().items()}
    state['neck.fc.weight'] = torch.zeros(2, 2)
    path = tmp_path_factory.mktemp('ck') / 'iter_5.pth'
    torch.save(dict(meta=dict(iter=5), state_dict=state), str(path))
    return str(path)


@pytest.mark.parametrize('loo', [False, True])
def test_tool_matches_library(demo, ckpt, tmp_path, loo):
    out = tmp_path / 'res.json'
    argv = [ckpt, 'random', '--names', 'ssl', 'rand', '--depth', '18',
            '--data-root', demo, '--img-size', '64', '--k', '3', '--out',
            str(out)] + (['--loo'] if loo else [])
    rows = tool.main(argv)
    saved = json.loads(out.read_text())
    assert saved['protocol'] == ('leave-one-out' if loo else 'train -> val')
    assert [r['name'] for r in saved['rows']] == ['ssl', 'rand']
    train = load_detection_set(osp.join(demo, 'annotations',
                                        'instances_train.json'),
                               osp.join(demo, 'train'), 64)
    val = None if loo else load_detection_set(
        osp.join(demo, 'annotations', 'instances_val.json'),
        osp.join(demo, 'val'), 64)
    expected = evaluate_backbone(build_backbone(ckpt), train, val, ks=(3, ))
    for key, value in expected.items():
        assert rows[0][key] == pytest.approx(value), key
    n_val_boxes = sum(len(b) for b in (train if loo else val)['boxes'])
    assert rows[1]['num_boxes'] == n_val_boxes


def test_loaded_weights_are_the_checkpoint(ckpt):
    from mmpretrain.models import ResNet
    torch.manual_seed(1)
    ref = ResNet(depth=18).state_dict()
    got = build_backbone(ckpt).state_dict()
    for key, value in ref.items():
        torch.testing.assert_close(got[key], value, msg=key)
    with pytest.raises(ValueError, match='needs a depth'):
        build_backbone('random')


@pytest.mark.parametrize('argv,match', [
    (['a.pth', '--names', 'x', 'y', '--data-root', 'd'], '--names'),
    (['a.pth'], '--data-root, or --ann-file'),
    (['a.pth', '--ann-file', 'a', '--img-dir', 'b', '--val-ann-file', 'c'],
     'both --val-ann-file'),
])
def test_bad_args(argv, match, capsys):
    with pytest.raises(SystemExit):
        tool.parse_args(argv)
    assert match in capsys.readouterr().err
