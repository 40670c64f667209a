# Copyright (c) mmscrl contributors. All rights reserved.
"""Non-finite pre-trained weights and negative-size boxes are never used
silently (issue 21, items 10 and 11), and ``BoxKNNHook`` checks its
annotation files before training (item 20)."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmpretrain.models import ResNet

import mmscrl  # noqa: F401
from mmscrl.demo.generator import generate_demo_dataset
from mmscrl.evaluation.box_knn import load_coco_detection
from mmscrl.models.utils.pretrained_backbone import PretrainedBackbone
from mmscrl.utils.checkpoint_layout import CheckpointLayoutError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(rel_path, name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, *rel_path.split('/')))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad_inputs') / 'demo'
    generate_demo_dataset(str(root), num_unlabeled=0, num_train=4,
                          num_val=2, img_size=64)
    return str(root)


@pytest.fixture(scope='module')
def nan_ckpt(tmp_path_factory):
    """A full training checkpoint whose backbone diverged (a NaN weight,
    an Inf BN running variance)."""
    torch.manual_seed(0)
    state = ResNet(depth=18).state_dict()
    state['layer1.0.conv1.weight'][0, 0, 0, 0] = float('nan')
    state['bn1.running_var'][3] = float('inf')
    full = {f'backbone.{k}': v for k, v in state.items()}
    path = str(tmp_path_factory.mktemp('ck') / 'iter_9.pth')
    torch.save(dict(meta=dict(iter=9), state_dict=full), path)
    return path


# -- item 10: one rule for non-finite weights ------------------------------

def test_pretrained_backbone_refuses_non_finite(nan_ckpt):
    net = ResNet(depth=18)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(CheckpointLayoutError) as info:
        PretrainedBackbone(nan_ckpt)(net)
    msg = str(info.value)
    assert nan_ckpt in msg
    assert '2 backbone tensor(s) hold NaN/Inf' in msg
    assert 'bn1.running_var, layer1.0.conv1.weight' in msg
    # nothing was loaded
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_box_knn_eval_tool_refuses_non_finite(nan_ckpt, demo, tmp_path):
    tool = _tool('tools/analysis_tools/box_knn_eval.py', '_bke_nan')
    out = tmp_path / 'res.json'
    with pytest.raises(CheckpointLayoutError, match='hold NaN/Inf'):
        tool.main([nan_ckpt, '--depth', '18', '--data-root', demo,
                   '--img-size', '64', '--k', '3', '--out', str(out)])
    assert not out.exists()


def test_extract_backbone_uses_the_same_rule(nan_ckpt, tmp_path):
    tool = _tool('tools/model_converters/extract_backbone.py', '_eb_nan')
    with pytest.raises(CheckpointLayoutError) as info:
        tool.convert(nan_ckpt, str(tmp_path / 'out.pth'))
    msg = str(info.value)
    assert nan_ckpt in msg
    assert '2 backbone tensor(s) hold NaN/Inf' in msg
    assert 'bn1.running_var, layer1.0.conv1.weight' in msg
    assert '--allow-non-finite' in msg  # the tool's own way out
    assert not (tmp_path / 'out.pth').exists()


def test_check_finite_weights():
    from mmscrl.utils.checkpoint_layout import check_finite_weights
    good = dict(a=torch.ones(2), n=torch.tensor(3))
    check_finite_weights(good, 'good.pth')  # no error
    bad = {f'w{i}': torch.tensor([float('nan')]) for i in range(10)}
    with pytest.raises(CheckpointLayoutError,
                       match=r'bad\.pth: 10 backbone tensor\(s\) hold '
                       r'NaN/Inf \(w0, w1, .*w7 \.\.\.\)'):
        check_finite_weights(bad, 'bad.pth')


# -- item 11: negative-size boxes ----------------------------------------

def _edited(demo, tmp_path, edit):
    with open(osp.join(demo, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    edit(coco)
    path = tmp_path / 'edited.json'
    path.write_text(json.dumps(coco))
    return str(path), coco


def test_box_knn_refuses_negative_size_boxes(demo, tmp_path):
    def edit(coco):
        coco['annotations'][1]['bbox'][2] = -5.  # x2 < x1
        coco['annotations'][2]['bbox'][3] = -1.  # y2 < y1

    path, coco = _edited(demo, tmp_path, edit)
    ids = [coco['annotations'][i]['id'] for i in (1, 2)]
    with pytest.raises(ValueError) as info:
        load_coco_detection(path, osp.join(demo, 'train'))
    msg = str(info.value)
    assert path in msg
    assert '2 annotation(s) with a negative width or height' in msg
    assert f'e.g. ids {ids[0]}, {ids[1]};' in msg


def test_box_knn_refuses_non_finite_boxes(demo, tmp_path):
    path, coco = _edited(
        demo, tmp_path,
        lambda c: c['annotations'][0]['bbox'].__setitem__(0, float('nan')))
    with pytest.raises(ValueError, match=r'non-finite .*id '
                       f'{coco["annotations"][0]["id"]}'):
        load_coco_detection(path, osp.join(demo, 'train'))


def test_box_knn_counts_dropped_boxes(demo, tmp_path, capsys):
    """Small and crowd boxes are dropped as documented, but counted and
    logged with the file and an example id."""
    def edit(coco):
        coco['annotations'][0]['bbox'][2] = 0.5  # narrower than 1 px
        coco['annotations'][1]['iscrowd'] = 1

    path, coco = _edited(demo, tmp_path, edit)
    from mmengine.logging import MMLogger
    MMLogger.get_instance(f'bad_boxes_{tmp_path.name}')  # logs to capsys
    capsys.readouterr()
    data = load_coco_detection(path, osp.join(demo, 'train'))
    assert data['dropped'] == dict(crowd=1, small=1, no_image=0)
    assert sum(len(r['boxes']) for r in data['images']) == \
        len(coco['annotations']) - 2
    out = capsys.readouterr().out
    assert path in out
    assert f'1 smaller than 1 px (e.g. id {coco["annotations"][0]["id"]})' \
        in out
    assert f'1 crowd (e.g. id {coco["annotations"][1]["id"]})' in out


# -- item 20: BoxKNNHook checks its files before training ----------------

def _hook_runner(tmp_path, hook):
    import sys
    sys.path.insert(0, osp.join(REPO, 'tests', 'engine'))
    from test_box_knn_hook import _runner
    return _runner(tmp_path, hook, max_iters=3)


@pytest.mark.parametrize('content,error,match', [
    (None, FileNotFoundError, 'no annotation file'),
    ('{"images": [', ValueError, 'is not JSON'),
    ('{"images": [], "annotations": [], "categories": []}', ValueError,
     'no image with a box'),
])
def test_box_knn_hook_checks_before_train(demo, tmp_path, content, error,
                                          match):
    ann = tmp_path / 'val.json'
    if content is not None:
        ann.write_text(content)
    hook = dict(type='BoxKNNHook',
                ann_file=osp.join(demo, 'annotations',
                                  'instances_train.json'),
                img_dir=osp.join(demo, 'train'), val_ann_file=str(ann),
                val_img_dir=osp.join(demo, 'val'), interval=100,
                img_size=64)
    runner = _hook_runner(tmp_path / 'work', hook)
    with pytest.raises(error, match=match) as info:
        runner.train()
    assert str(ann) in str(info.value)
    assert runner.iter == 0  # before the first iteration, not at the end
