# Copyright (c) mmscrl contributors. All rights reserved.
import json
import os.path as osp
from glob import glob

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmscrl  # noqa: F401
from mmscrl.demo.generator import generate_demo_dataset
from mmscrl.engine.hooks import BoxKNNHook
from mmscrl.registry import HOOKS


class ToySelfSup(BaseModel):
    """A backbone trained on random images with a dummy loss."""

    def __init__(self):
        super().__init__()
        from mmpretrain.models import ResNet
        self.backbone = ResNet(depth=18, out_indices=(3, ))

    def forward(self, inputs, data_samples=None, mode='loss'):
        feat = self.backbone(inputs)[-1]
        return dict(loss=feat.pow(2).mean())


class ToyData(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, 32, 32, generator=g))


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('hook') / 'demo'
    return generate_demo_dataset(
        str(root), num_unlabeled=0, num_train=6, num_val=3, img_size=64)


class ToyRootedData(ToyData):
    """``ToyData`` with a ``data_root``, as mmengine's datasets have."""

    def __init__(self, data_root):
        self.data_root = data_root


def _runner(tmp_path, hook_cfg=None, max_iters=3, dataset=None,
            default_hooks=None):
    torch.manual_seed(0)
    return Runner(
        model=ToySelfSup(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=ToyData() if dataset is None else dataset,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           **(default_hooks or {})),
        custom_hooks=[hook_cfg] if hook_cfg else None,
        visualizer=dict(  # one instance per run (ManagerMixin by name)
            type='Visualizer', name=f'vis_{osp.basename(str(tmp_path))}',
            vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='mmscrl')


@pytest.mark.parametrize('protocol', ['loo', 'train_val'])
def test_hook_logs_at_interval_and_end(demo, tmp_path, protocol):
    cfg = dict(type='BoxKNNHook', ann_file=demo['ann_train'],
               img_dir=demo['train'], interval=2, k=[3, 5], img_size=64)
    if protocol == 'train_val':
        cfg.update(val_ann_file=demo['ann_val'], val_img_dir=demo['val'])
    runner = _runner(tmp_path, cfg)
    runner.train()
    hook = [h for h in runner.hooks if isinstance(h, BoxKNNHook)][0]
    assert [h['iter'] for h in hook.history] == [2, 3]
    files = glob(osp.join(str(tmp_path), '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        recs = [json.loads(line) for line in f if 'knn/box_top1' in line]
    assert [r['step'] for r in recs] == [2, 3]
    for rec in recs:
        for key in ('knn/box_top1', 'knn/image_top1', 'knn/box_k3_top1',
                    'knn/box_k5_top1', 'knn/image_k5_top1'):
            assert 0. <= rec[key] <= 100., key
        assert rec['knn/box_top1'] == rec['knn/box_k3_top1']
        assert rec['knn/seconds'] > 0 and rec['knn/cost_iters'] > 0
    n_boxes = hook.evaluate(runner)['num_boxes']
    with open(demo['ann_val' if protocol == 'train_val' else 'ann_train'])\
            as f:
        assert n_boxes == len(json.load(f)['annotations'])


def test_hook_evaluates_the_current_weights(demo, tmp_path):
    """Metrics follow the backbone: constant features give chance-level
    votes that differ from a trained-looking backbone's."""
    hook = HOOKS.build(dict(type='BoxKNNHook', ann_file=demo['ann_train'],
                            img_dir=demo['train'], k=1, img_size=64))
    runner = _runner(tmp_path, max_iters=1)
    before = hook.evaluate(runner)
    for p in runner.model.backbone.parameters():
        nn.init.zeros_(p)
    after = hook.evaluate(runner)
    assert after != before
    assert runner.model.backbone.training


def test_hook_feature_level_c4(demo, tmp_path):
    """``feature_level='c4'`` measures C4 of the training backbone (whose
    out_indices give C5 only): the numbers of a ResNet that outputs C4
    with the same weights, and the backbone keeps its outputs and mode."""
    from mmpretrain.models import ResNet

    from mmscrl.evaluation.checkpoint_eval import (evaluate_backbone,
                                                   load_detection_set)
    hook = HOOKS.build(dict(type='BoxKNNHook', ann_file=demo['ann_train'],
                            img_dir=demo['train'], val_ann_file=demo[
                                'ann_val'], val_img_dir=demo['val'], k=3,
                            img_size=64, feature_level='C4'))
    runner = _runner(tmp_path, max_iters=1)
    got = hook.evaluate(runner)
    c4 = ResNet(depth=18, out_indices=(2, ))
    c4.load_state_dict(runner.model.backbone.state_dict())
    sets = [load_detection_set(demo[a], demo[d], 64)
            for a, d in (('ann_train', 'train'), ('ann_val', 'val'))]
    want = evaluate_backbone(c4, sets[0], sets[1], ks=(3, ))
    assert got == pytest.approx(want)
    assert got != pytest.approx(BoxKNNHook(
        ann_file=demo['ann_train'], img_dir=demo['train'],
        val_ann_file=demo['ann_val'], val_img_dir=demo['val'], k=3,
        img_size=64).evaluate(runner))
    assert runner.model.backbone.training
    assert runner.model.backbone(torch.zeros(1, 3, 64, 64))[0].shape[1] \
        == 512


@pytest.mark.parametrize('kwargs,match', [
    (dict(interval=0), 'interval must be'),
    (dict(val_ann_file='x.json'), 'val_img_dir'),
    (dict(feature_level='c7'), 'feature_level must be one of'),
    (dict(feature_level='c4', stage=0), 'not both'),
])
def test_hook_bad_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BoxKNNHook(ann_file='a.json', img_dir='.', **kwargs)


def test_hook_missing_file_is_named(tmp_path):
    hook = BoxKNNHook(ann_file=str(tmp_path / 'none.json'),
                      img_dir=str(tmp_path))
    runner = _runner(tmp_path, max_iters=1)
    with pytest.raises(FileNotFoundError, match='none.json'):
        hook.evaluate(runner)


def test_curves_draw_knn_at_its_iteration(demo, tmp_path):
    from mmscrl.visualization.curves import load_scalars, plot_curves
    runner = _runner(tmp_path, dict(type='BoxKNNHook',
                                    ann_file=demo['ann_train'],
                                    img_dir=demo['train'], interval=2,
                                    img_size=64), max_iters=3)
    runner.train()
    recs = load_scalars(str(tmp_path))
    knn = [r for r in recs if 'knn/box_top1' in r]
    assert [r['x'] for r in knn] == [2, 3]
    assert all(r['is_val'] for r in knn)
    out = plot_curves({'run': recs}, str(tmp_path / 'c.png'),
                      keys=['loss', 'knn/box_top1', 'knn/image_top1'])
    assert osp.getsize(out) > 0


# -- issue 22, item 2: one data_root for the whole config; an evaluation
# failure never costs a checkpoint --------------------------------------

def _demo_hook_cfg(rel='demo/scrl_resnet18_1xb32-coslr-500i_demo.py'):
    """The BoxKNNHook of a shipped demo config, at 64 px."""
    from mmengine.config import Config
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(osp.join(repo, 'configs', rel))
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'BoxKNNHook']
    assert len(hooks) == 1, rel
    return dict(hooks[0].to_dict(), img_size=64, interval=2)


@pytest.mark.parametrize('rel', [
    'demo/scrl_resnet18_1xb32-coslr-500i_demo.py',
    'demo/densecl_resnet18_1xb32-coslr-500i_demo.py',
])
def test_demo_hook_follows_the_train_data_root(rel, demo, tmp_path,
                                               monkeypatch):
    """A demo config whose train_dataloader.dataset.data_root is moved
    (here: the demo data elsewhere, run from a folder without data/demo)
    evaluates on the moved data, not on the hook's own data/demo/."""
    monkeypatch.chdir(tmp_path)
    root = osp.dirname(demo['train'])
    runner = _runner(tmp_path, _demo_hook_cfg(rel), max_iters=2,
                     dataset=ToyRootedData(root))
    runner.train()
    hook = [h for h in runner.hooks if isinstance(h, BoxKNNHook)][0]
    assert hook.ann_file == osp.join(root, 'annotations',
                                     'instances_train.json')
    assert hook.val_img_dir == osp.join(root, 'val/')
    assert [h['iter'] for h in hook.history] == [2]


def test_hook_without_labelled_set_stops_before_training(tmp_path):
    """Moved to a folder of unlabelled images, the demo hook stops the run
    before its first iteration, naming the file it looked for."""
    images = tmp_path / 'my_images'
    images.mkdir()
    runner = _runner(tmp_path, _demo_hook_cfg(), max_iters=2,
                     dataset=ToyRootedData(str(images)))
    with pytest.raises(FileNotFoundError,
                       match=str(images / 'annotations')):
        runner.train()
    assert runner.iter == 0


def test_explicit_data_root_wins(demo, tmp_path):
    root = osp.dirname(demo['train'])
    cfg = dict(_demo_hook_cfg(), data_root=root)
    runner = _runner(tmp_path, cfg, max_iters=2,
                     dataset=ToyRootedData(str(tmp_path / 'elsewhere')))
    runner.train()
    hook = [h for h in runner.hooks if isinstance(h, BoxKNNHook)][0]
    assert hook.img_dir == osp.join(root, 'train/')


def test_evaluation_failure_keeps_the_checkpoint(demo, tmp_path,
                                                 monkeypatch):
    """The hook's evaluation raises at iteration 2, when the checkpoint
    hook saves too: iter_2.pth and last_checkpoint are written first."""

    def boom(self, runner):
        raise RuntimeError('evaluation failed')

    monkeypatch.setattr(BoxKNNHook, 'evaluate', boom)
    work = tmp_path
    runner = _runner(
        work, dict(type='BoxKNNHook', ann_file=demo['ann_train'],
                   img_dir=demo['train'], interval=2, img_size=64),
        max_iters=4,
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=2, by_epoch=False)))
    with pytest.raises(RuntimeError, match='evaluation failed'):
        runner.train()
    assert runner.iter == 1  # the failing hook ran after iteration 2
    assert (work / 'iter_2.pth').is_file()
    assert (work / 'last_checkpoint').read_text().strip() == str(
        work / 'iter_2.pth')
