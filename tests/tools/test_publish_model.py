# Copyright (c) mmscrl contributors. All rights reserved.
"""tools/model_converters/publish_model.py."""
import hashlib
import os.path as osp

import pytest
import torch


@pytest.fixture(scope='module')
def publish_model(load_tool):
    return load_tool('model_converters/publish_model.py')


def _training_ckpt(path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    torch.save(
        dict(state_dict=net.state_dict(), optimizer=opt.state_dict(),
             message_hub=dict(log_scalars={}), param_schedulers=[],
             meta=dict(epoch=3, iter=30, mmengine_version='0.10.7',
                       cfg='model = dict()', hook_msgs={'x': 1})), path)
    return net.state_dict()


def test_publish_strips_and_suffixes(tmp_path, publish_model):
    state = _training_ckpt(tmp_path / 'epoch_3.pth')
    final = publish_model.main(
        [str(tmp_path / 'epoch_3.pth'),
         str(tmp_path / 'out' / 'scrl_r50.pth')])
    digest = hashlib.sha256(open(final, 'rb').read()).hexdigest()
    assert osp.basename(final) == f'scrl_r50-{digest[:8]}.pth'
    assert not osp.exists(str(tmp_path / 'out' / 'scrl_r50.pth.tmp'))
    ckpt = torch.load(final, map_location='cpu', weights_only=False)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta'] == dict(epoch=3, iter=30, mmengine_version='0.10.7',
                                cfg='model = dict()')
    for k, v in state.items():
        assert torch.equal(ckpt['state_dict'][k], v)
    # --keep-meta keeps hook_msgs; still no optimizer
    final = publish_model.main([
        str(tmp_path / 'epoch_3.pth'),
        str(tmp_path / 'full.pth'), '--keep-meta'
    ])
    ckpt = torch.load(final, map_location='cpu', weights_only=False)
    assert 'hook_msgs' in ckpt['meta'] and 'optimizer' not in ckpt


def test_publish_bad_input(tmp_path, publish_model):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        publish_model.publish(str(tmp_path / 'nope.pth'),
                              str(tmp_path / 'o.pth'))
    torch.save(dict(optimizer={}), tmp_path / 'opt_only.pth')
    with pytest.raises(KeyError, match='no "state_dict"'):
        publish_model.publish(str(tmp_path / 'opt_only.pth'),
                              str(tmp_path / 'o.pth'))
    _training_ckpt(tmp_path / 'c.pth')
    with pytest.raises(ValueError, match='must end with .pth'):
        publish_model.publish(str(tmp_path / 'c.pth'),
                              str(tmp_path / 'o.bin'))
