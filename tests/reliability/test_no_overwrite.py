# Copyright (c) mmscrl contributors. All rights reserved.
"""No tool writes over its own input (issue: ``extract_backbone.py c.pth
c.pth`` replaced a training checkpoint with its backbone, exit 0)."""
import hashlib
import os

import pytest
import torch

import mmscrl  # noqa: F401
from mmscrl.utils.fileio import refuse_overwriting_input


def _ckpt(path):
    from mmpretrain.models import ResNet
    net = ResNet(depth=18, base_channels=8)
    sd = {f'backbone.{k}': v for k, v in net.state_dict().items()}
    sd.update({f'target_net.0.{k}': v for k, v in net.state_dict().items()})
    torch.save({'meta': {'iter': 3}, 'state_dict': sd,
                'optimizer': {'state': {}}}, path)
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def test_extract_backbone_refuses_its_input(tmp_path, load_tool, capsys):
    tool = load_tool('model_converters/extract_backbone.py')
    src = str(tmp_path / 'c.pth')
    before = _ckpt(src)
    link = tmp_path / 'link.pth'
    os.symlink(src, link)
    hard = tmp_path / 'hard.pth'
    os.link(src, hard)
    for dst in (src, str(link), str(hard),
                str(tmp_path / 'sub' / '..' / 'c.pth')):
        assert tool.main([src, dst]) == 1
        assert 'is the input file' in capsys.readouterr().err
        assert _digest(src) == before
    # a different output still works
    assert tool.main([src, str(tmp_path / 'backbone.pth'),
                      '--allow-missing']) == 0  # a tiny, non-standard net


def test_publish_model_refuses_its_input(tmp_path, load_tool):
    tool = load_tool('model_converters/publish_model.py')
    src = str(tmp_path / 'c.pth')
    before = _ckpt(src)
    with pytest.raises(ValueError, match='is the input file'):
        tool.publish(src, src)
    assert _digest(src) == before
    final = tool.publish(src, str(tmp_path / 'rel.pth'))
    # publishing the published file under its own stem: same name, refused
    with pytest.raises(ValueError, match='is the input file'):
        tool.publish(final, str(tmp_path / 'rel.pth'))
    assert not [p for p in os.listdir(tmp_path) if p.endswith('.tmp')]


def test_refuse_overwriting_input_ignores_other_files(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.write_text('x')
    refuse_overwriting_input(str(b), str(a), None, 'https://x/a')
    with pytest.raises(ValueError):
        refuse_overwriting_input(str(a), str(b), str(a))
