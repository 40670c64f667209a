# Copyright (c) mmscrl contributors. All rights reserved.
"""DetPreciseBNHook: on a tiny Faster R-CNN (BN in backbone, FPN and the
4conv1fc box head) the running statistics become the means of the per-batch
statistics of the training forward, recorded here from the BN inputs."""
import copy

import pytest
import torch

from mmscrl.engine.hooks.precise_bn_hook import (DetPreciseBNHook,
                                                 update_bn_stats_in_loss_mode)

ROIS_PER_IMAGE = 16


def _tiny_faster_rcnn():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.hub import get_config
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    cfg = get_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    bn = dict(type='BN', requires_grad=True)
    m = cfg.model
    m.data_preprocessor.update(mean=[0., 0., 0.], std=[255., 255., 255.])
    m.backbone.update(depth=18, base_channels=8, norm_cfg=bn,
                      norm_eval=False, frozen_stages=1, init_cfg=None)
    m.neck.update(in_channels=[8, 16, 32, 64], out_channels=16, norm_cfg=bn)
    m.rpn_head.update(in_channels=16, feat_channels=16)
    m.roi_head.bbox_roi_extractor.out_channels = 16
    m.roi_head.bbox_head = dict(
        m.roi_head.bbox_head, type='Shared4Conv1FCBBoxHead', in_channels=16,
        conv_out_channels=16, fc_out_channels=32, num_classes=2,
        norm_cfg=bn)
    m.train_cfg.rpn_proposal.update(nms_pre=100, max_per_img=50)
    m.train_cfg.rcnn.sampler.num = ROIS_PER_IMAGE
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(m)
    torch.manual_seed(0)
    model.init_weights()
    return model


def _batches(n, seed=0):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        inputs, samples = [], []
        for _ in range(2):
            inputs.append(
                torch.randint(0, 256, (3, 64, 64), generator=g,
                              dtype=torch.uint8))
            xy = torch.randint(0, 30, (2, 2), generator=g).float()
            wh = torch.randint(12, 30, (2, 2), generator=g).float()
            s = DetDataSample(metainfo=dict(
                img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64),
                scale_factor=(1., 1.), batch_input_shape=(64, 64)))
            s.gt_instances = InstanceData(
                bboxes=torch.cat([xy, xy + wh], 1),
                labels=torch.tensor([0, 1]))
            samples.append(s)
        out.append(dict(inputs=inputs, data_samples=samples))
    return out


def test_running_stats_become_precise_averages():
    pytest.importorskip('mmdet')
    model = _tiny_faster_rcnn()
    model.train()
    trained = [(n, m) for n, m in model.named_modules()
               if isinstance(m, torch.nn.BatchNorm2d) and m.training]
    frozen = {n: copy.deepcopy(m.state_dict())
              for n, m in model.named_modules()
              if isinstance(m, torch.nn.BatchNorm2d) and not m.training}
    # BN in res3-res5, FPN and the box head's 4 convs; the stem and res1
    # are frozen (frozen_stages=1)
    assert any(n.startswith('roi_head.bbox_head') for n, _ in trained)
    assert any(n.startswith('neck') for n, _ in trained)
    assert 'backbone.bn1' in frozen
    before = {n: m.running_mean.clone() for n, m in trained}

    seen = {n: [] for n, _ in trained}

    def record(name):
        def hook(module, args):
            x = args[0].detach().double()
            dims = [0] + list(range(2, x.dim()))
            seen[name].append((x.mean(dims), x.var(dims, unbiased=True),
                               x.shape[0]))
        return hook

    handles = [m.register_forward_pre_hook(record(n)) for n, m in trained]
    model.eval()  # the mode is restored afterwards
    n = update_bn_stats_in_loss_mode(model, iter(_batches(3)), num_iters=3)
    for h in handles:
        h.remove()
    assert n == len(trained)
    assert not model.training
    for name, bn in trained:
        stats = seen[name]
        assert len(stats) == 3, name  # one forward per batch
        mean = sum(s[0] for s in stats) / 3
        var = sum(s[1] for s in stats) / 3
        torch.testing.assert_close(bn.running_mean.double(), mean,
                                   rtol=1e-5, atol=1e-6, msg=name)
        torch.testing.assert_close(bn.running_var.double(), var,
                                   rtol=1e-5, atol=1e-6, msg=name)
        assert bn.momentum == 0.1, name
        assert not torch.equal(bn.running_mean, before[name]), name
    # the box head ran the training forward: 2 images x the sampled RoIs
    # (mode 'tensor' would feed it the test-time proposals instead)
    head_bn = [s for n, s in seen.items()
               if n.startswith('roi_head.bbox_head')][0]
    assert {s[2] for s in head_bn} == {2 * ROIS_PER_IMAGE}
    # BN in frozen stages keeps its statistics
    for name, m in model.named_modules():
        if name in frozen:
            for key, value in m.state_dict().items():
                assert torch.equal(value, frozen[name][key]), (name, key)


def test_short_loader_and_bad_arguments():
    pytest.importorskip('mmdet')
    model = _tiny_faster_rcnn()
    state = copy.deepcopy(model.state_dict())
    with pytest.raises(RuntimeError, match='needs 3 batches.*after 2'):
        update_bn_stats_in_loss_mode(model, iter(_batches(2)), num_iters=3)
    # momentum and statistics restored after the failure
    assert all(m.momentum == 0.1 for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    with pytest.raises(ValueError, match='num_iters must be a positive'):
        DetPreciseBNHook(num_iters=0)
    with pytest.raises(ValueError, match='interval must be None'):
        DetPreciseBNHook(interval=0)
    hook = DetPreciseBNHook()
    assert (hook.num_iters, hook.interval, hook.priority) == (
        200, None, 'ABOVE_NORMAL')
