# Copyright (c) mmscrl contributors. All rights reserved.
"""PretrainedBackbone reads local files and CheckpointLoader schemes."""
import pytest
import torch
import torchvision
from mmdet.models.backbones import ResNet

from mmscrl.models.utils.pretrained_backbone import PretrainedBackbone


def _same(module, state):
    own = module.state_dict()
    return all(torch.equal(own[k], state[k]) for k in own
               if not k.endswith('num_batches_tracked'))


def test_local_backbone_only_file(tmp_path):
    src = ResNet(depth=18)
    path = tmp_path / 'r18.pth'
    torch.save(src.state_dict(), path)
    dst = ResNet(depth=18)
    PretrainedBackbone(str(path))(dst)
    assert _same(dst, src.state_dict())


def test_torchvision_scheme_offline(monkeypatch):
    """``torchvision://resnet18`` resolves through mmengine's loader; the
    download itself is replaced by a local torchvision ResNet-18."""
    import mmengine.runner.checkpoint as ckpt_mod
    tv = torchvision.models.resnet18()
    calls = []

    def fake_http(url, map_location=None, **kwargs):
        calls.append(url)
        return tv.state_dict()

    monkeypatch.setattr(ckpt_mod, 'load_from_http', fake_http)
    dst = ResNet(depth=18)
    init = PretrainedBackbone('torchvision://resnet18')
    init(dst)
    assert calls and 'resnet18' in calls[0]
    assert _same(dst, tv.state_dict())
    assert any('fc.weight' in k for k in
               init.report['unused'] + list(init.report['skipped']))


def test_url_errors_are_named(monkeypatch):
    import torch.hub

    def offline(url, dst, *args, **kwargs):
        raise ConnectionError('network unreachable')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    with pytest.raises(OSError, match='https://example.org/x.pth'):
        PretrainedBackbone('https://example.org/x.pth')(ResNet(depth=18))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        PretrainedBackbone('/nowhere/missing.pth')(ResNet(depth=18))
