# Copyright (c) mmscrl contributors. All rights reserved.
"""Official zdaxie/PixPro checkpoints (``{'model': {'module.encoder.*',
'module.encoder_k.*', ...}}``) convert to torchvision / mmdet backbones and
initialise a ResNet through ``PretrainedBackbone``."""
import pytest
import torch
import torch.nn as nn
import torchvision
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl.models.utils.pretrained_backbone import PretrainedBackbone
from mmscrl.registry import MODELS
from mmscrl.utils.checkpoint_layout import (extract_backbone,
                                            resnet_state_dict_keys)


def _perturbed(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn(t.shape, generator=g) * 0.1)
    return model.eval()


def _mlp2d(cin, chid, cout):
    """The official MLP2d names: linear1, bn1, linear2."""
    m = nn.Module()
    m.linear1 = nn.Conv2d(cin, chid, 1)
    m.bn1 = nn.BatchNorm2d(chid)
    m.linear2 = nn.Conv2d(chid, cout, 1)
    return m


def official_pixpro(encoder, encoder_k, instance=False):
    """A checkpoint in the released layout: the DDP state dict under
    ``model`` (publish_model.py keeps nothing else)."""
    net = nn.Module()
    for name, enc in (('encoder', encoder), ('encoder_k', encoder_k)):
        body = nn.Sequential()
        for child, mod in enc.named_children():
            if child != 'fc':
                body.add_module(child, mod)
        setattr(net, name, body)
    c5 = 2048 if isinstance(encoder.layer1[0],
                            torchvision.models.resnet.Bottleneck) else 512
    net.projector = _mlp2d(c5, 32, 16)
    net.projector_k = _mlp2d(c5, 32, 16)
    net.value_transform = nn.Conv2d(16, 16, 1)
    if instance:
        net.projector_instance = _mlp2d(c5, 32, 16)
        net.projector_instance_k = _mlp2d(c5, 32, 16)
        net.predictor = _mlp2d(16, 32, 16)
    return dict(model={f'module.{k}': v for k, v in net.state_dict().items()})


def test_r50_keys_equal_torchvision_without_fc():
    """(l) the stripped encoder keys are torchvision ResNet-50's minus fc:
    318 keys (53 convs + 53 BN x 5), same shapes."""
    tv = torchvision.models.resnet50()
    ckpt = official_pixpro(tv, torchvision.models.resnet50())
    ext = extract_backbone(ckpt)
    assert ext.layout == 'pixpro-official'
    assert ext.source_prefix == 'model/encoder.'
    expected = {k: v.shape for k, v in tv.state_dict().items()
                if not k.startswith('fc.')}
    assert len(expected) == len(ext.state_dict) == 318
    assert {k: v.shape for k, v in ext.state_dict.items()} == expected
    assert set(ext.state_dict) == set(resnet_state_dict_keys(50))
    assert ext.depth == 50 and ext.missing == [] and ext.unexpected == []
    # the momentum copy, projectors and PPM are skipped, not converted
    assert any(k.startswith('encoder_k.') for k in ext.skipped)
    assert {'value_transform.weight', 'value_transform.bias'} <= set(
        ext.skipped)


@pytest.mark.parametrize('instance', [False, True])
@pytest.mark.parametrize('fmt', ['torchvision', 'mmdet'])
def test_converts_the_online_encoder(tmp_path, load_tool, fmt, instance):
    online = _perturbed(torchvision.models.resnet18(), 0)
    target = _perturbed(torchvision.models.resnet18(), 1)
    src = tmp_path / 'pixpro_base_r50_100ep_md5.pth'
    torch.save(official_pixpro(online, target, instance), src)
    dst = tmp_path / 'out.pth'
    converter = load_tool('model_converters/extract_backbone.py')
    ext = converter.convert(str(src), str(dst), fmt)
    assert ext.layout == 'pixpro-official'
    if instance:
        assert any(k.startswith('predictor.') for k in ext.skipped)
    out = torch.load(dst, weights_only=True)
    state = out['state_dict'] if fmt == 'mmdet' else out
    state = {k[len('backbone.'):] if k.startswith('backbone.') else k: v
             for k, v in state.items()}
    model = torchvision.models.resnet18()
    result = model.load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []
    model.fc = online.fc
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), online(x))  # online, not _k


def test_pretrained_backbone_initialises_an_mmdet_style_resnet(tmp_path):
    online = _perturbed(torchvision.models.resnet18(), 0)
    src = tmp_path / 'pixpro.pth'
    torch.save(
        official_pixpro(online, _perturbed(torchvision.models.resnet18(), 1)),
        src)
    with DefaultScope.overwrite_default_scope('mmscrl'):
        net = MODELS.build(dict(type='ResNet', depth=18, style='pytorch',
                                norm_cfg=dict(type='BN')))
    init = PretrainedBackbone(str(src))
    init(net)
    assert init.report['layout'] == 'pixpro-official'
    torch.testing.assert_close(net.conv1.weight, online.conv1.weight)
    torch.testing.assert_close(net.layer4[1].bn2.running_var,
                               online.layer4[1].bn2.running_var)
