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


# -- monitor variants (issue 20, item 3): feature level, input size, probe --

def test_tool_feature_level_and_probe(demo, ckpt, tmp_path):
    out = tmp_path / 'res.json'
    rows = tool.main([ckpt, '--data-root', demo, '--img-size', '96',
                      '--k', '3', '--feature-level', 'c4', '--probe',
                      '--out', str(out)])
    saved = json.loads(out.read_text())
    assert saved['feature_level'] == 'c4' and saved['probe'] is True
    sets = [load_detection_set(osp.join(demo, 'annotations',
                                        f'instances_{s}.json'),
                               osp.join(demo, s), 96)
            for s in ('train', 'val')]
    want = evaluate_backbone(build_backbone(ckpt), *sets, ks=(3, ),
                             feature_level='c4', probe=True)
    for key, value in want.items():
        assert rows[0][key] == pytest.approx(value), key
    c5 = evaluate_backbone(build_backbone(ckpt), *sets, ks=(3, ))
    assert 'box_probe_top1' not in c5
    assert 0. <= rows[0]['box_probe_top1'] <= 100.
    with pytest.raises(SystemExit):
        tool.parse_args([ckpt, '--data-root', demo, '--loo', '--probe'])


def test_resnet_levels_match_out_indices():
    from mmpretrain.models import ResNet

    from mmscrl.evaluation.checkpoint_eval import ResNetLevels
    torch.manual_seed(0)
    c5_only = ResNet(depth=18, out_indices=(3, ))
    all_levels = ResNet(depth=18, out_indices=(0, 1, 2, 3))
    all_levels.load_state_dict(c5_only.state_dict())
    for net in (c5_only, all_levels):
        net.eval()  # mmpretrain's ResNet.train() returns None
    x = torch.randn(2, 3, 64, 64)
    wrapped = ResNetLevels(c5_only, ('c4', 'C2', 'c5'))
    assert not wrapped.training  # the wrapped backbone's mode
    got = wrapped(x)
    ref = all_levels(x)
    for out, idx in zip(got, (2, 0, 3)):
        torch.testing.assert_close(out, ref[idx])
    assert got[0].shape[-1] == 4 and got[2].shape[-1] == 2  # stride 16, 32
    assert len(c5_only(x)) == 1  # its out_indices untouched, no hook left
    assert not c5_only.layer3._forward_hooks
    with pytest.raises(ValueError, match='unknown feature level'):
        ResNetLevels(c5_only, ('c6', ))
    with pytest.raises(AttributeError, match='no res_layers'):
        ResNetLevels(torch.nn.Conv2d(3, 3, 1), ('c4', ))


@pytest.mark.parametrize('spec,want', [
    ('c5', ('c5', 'knn', 'c5', 128)),
    ('C4-256', ('c4-256', 'knn', 'c4', 256)),
    ('probe-c4', ('probe-c4', 'probe', 'c4', 128)),
    ('probe-c3-64', ('probe-c3-64', 'probe', 'c3', 64)),
])
def test_parse_monitor(spec, want):
    from mmscrl.evaluation.checkpoint_eval import parse_monitor
    assert tuple(parse_monitor(spec)) == want


@pytest.mark.parametrize('spec,match', [
    ('c6', r'expected \[probe-\]c<2-5>'), ('knn-c5', 'expected'),
    ('c5-16', '16 px < 32'), ('', 'expected')])
def test_parse_monitor_bad(spec, match):
    from mmscrl.evaluation.checkpoint_eval import parse_monitor
    with pytest.raises(ValueError, match=match):
        parse_monitor(spec)


def test_evaluate_monitors(demo, ckpt):
    from mmscrl.evaluation.checkpoint_eval import (evaluate_monitors,
                                                   parse_monitor)
    sets = {
        size: tuple(load_detection_set(
            osp.join(demo, 'annotations', f'instances_{s}.json'),
            osp.join(demo, s), size) for s in ('train', 'val'))
        for size in (64, 96)
    }
    backbone = build_backbone(ckpt)
    mons = [parse_monitor(m) for m in ('c5-64', 'c4-96', 'probe-c4-96')]
    cache = {}
    out = evaluate_monitors(backbone, sets, mons, k=3, feature_cache=cache)
    assert sorted(cache) == [('c4', 96), ('c5', 64)]  # c4-96 shared
    ref = {
        'c5-64': evaluate_backbone(backbone, *sets[64], ks=(3, )),
        'c4-96': evaluate_backbone(backbone, *sets[96], ks=(3, ),
                                   feature_level='c4', probe=True),
    }
    assert out['c5-64'] == pytest.approx(dict(
        box_knn_top1=ref['c5-64']['box_k3_top1'],
        image_knn_top1=ref['c5-64']['image_k3_top1']))
    assert out['c4-96']['box_knn_top1'] == pytest.approx(
        ref['c4-96']['box_k3_top1'])
    assert out['probe-c4-96'] == pytest.approx(
        dict(box_probe_top1=ref['c4-96']['box_probe_top1']))
    with pytest.raises(KeyError, match='at 128 px'):
        evaluate_monitors(backbone, sets, [parse_monitor('c5')])
