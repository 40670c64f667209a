# Copyright (c) mmscrl contributors. All rights reserved.
"""No load path runs code from a checkpoint, local or remote (issue: code
execution through ``weights_only=False`` in ``publish_model.py`` and in
mmengine's ``http(s)://`` loader).

A malicious checkpoint whose unpickling would create a marker folder is
served on 127.0.0.1; every loader of the project is tried on it (URL and
local file). Each must fail, and the marker must not exist.
"""
import functools
import http.server
import os
import os.path as osp
import threading

import pytest
import torch

import mmscrl  # noqa: F401  (compat fixes)


class _Payload:
    """Unpickling this calls ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


@pytest.fixture()
def evil_server(tmp_path, monkeypatch):
    """(url, local path, marker) of a malicious checkpoint served locally."""
    serve = tmp_path / 'www'
    serve.mkdir()
    marker = str(tmp_path / 'PWNED')
    ckpt = {'meta': {}, 'state_dict': {'conv1.weight': _Payload(marker)}}
    torch.save(ckpt, serve / 'evil.pth')
    # torch.hub cache of this test only
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f'http://127.0.0.1:{httpd.server_address[1]}/evil.pth'
        yield url, str(serve / 'evil.pth'), marker
    finally:
        httpd.shutdown()
        httpd.server_close()


def _tiny_resnet():
    from mmpretrain.models import ResNet
    return ResNet(depth=18, base_channels=8, out_indices=(3, ))


def _loaders(tmp_path):
    from mmengine.runner import CheckpointLoader, load_checkpoint
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmscrl.models.utils.pretrained_backbone import PretrainedBackbone
    from mmscrl.utils.checkpoint_layout import load_checkpoint_file

    def publish(src):
        import importlib.util
        root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
        spec = importlib.util.spec_from_file_location(
            'publish_model',
            osp.join(root, 'tools', 'model_converters', 'publish_model.py'))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.publish(src, str(tmp_path / 'out.pth'))

    def init_model(src):
        from mmscrl.apis import init_model as init
        return init('configs/demo/byol_resnet18_1xb8-coslr-20i_demo.py',
                    src, device='cpu')

    return {
        'load_checkpoint_file': load_checkpoint_file,
        'CheckpointLoader': lambda s: CheckpointLoader.load_checkpoint(
            s, map_location='cpu'),
        'mmengine load_checkpoint (load_from=, tools/test.py)':
        lambda s: load_checkpoint(_tiny_resnet(), s, map_location='cpu'),
        'mmengine _load_checkpoint (init_cfg Pretrained)':
        lambda s: _load_checkpoint(s, map_location='cpu'),
        'PretrainedBackbone (box_knn_eval, transfer)':
        lambda s: PretrainedBackbone(checkpoint=s)(_tiny_resnet()),
        'publish_model.py': publish,
        'mmscrl.apis.init_model': init_model,
    }


@pytest.mark.parametrize('where', ['url', 'local'])
def test_no_loader_runs_pickled_code(evil_server, tmp_path, monkeypatch,
                                     where):
    url, local, marker = evil_server
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    monkeypatch.chdir(repo)
    src = url if where == 'url' else local
    failures = []
    for name, load in _loaders(tmp_path).items():
        try:
            load(src)
        except Exception:  # noqa: BLE001  (refused, as it must be)
            pass
        else:
            failures.append(f'{name} accepted the malicious file')
        if osp.exists(marker):
            failures.append(f'{name} ran the pickled code')
            os.rmdir(marker)
    assert not failures, failures


def test_scheme_urls_use_the_safe_loader(evil_server, monkeypatch):
    """``torchvision://`` / ``open-mmlab://`` names resolve to URLs that
    mmengine downloads: the same safe loader applies."""
    from mmengine.runner import CheckpointLoader
    from mmengine.runner import checkpoint as ckpt_mod
    url, _, marker = evil_server
    monkeypatch.setattr(ckpt_mod, 'get_torchvision_models',
                        lambda: {'evil': url})
    monkeypatch.setattr(ckpt_mod, 'get_external_models',
                        lambda: {'evil': url})
    for name in ('torchvision://evil', 'open-mmlab://evil'):
        with pytest.raises(Exception):
            CheckpointLoader.load_checkpoint(name, map_location='cpu')
        assert not osp.exists(marker), name


def test_safe_url_loading_still_loads_checkpoints(tmp_path, monkeypatch):
    """A benign mmengine checkpoint served over HTTP loads (and is cached)."""
    from mmengine.runner import load_checkpoint

    from mmscrl.utils.checkpoint_layout import load_checkpoint_file
    serve = tmp_path / 'www'
    serve.mkdir()
    net = _tiny_resnet()
    torch.save({'meta': {'epoch': 1}, 'state_dict': net.state_dict()},
               serve / 'good.pth')
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f'http://127.0.0.1:{httpd.server_address[1]}/good.pth'
        ckpt = load_checkpoint_file(url)
        assert ckpt['meta']['epoch'] == 1
        other = _tiny_resnet()
        load_checkpoint(other, url, map_location='cpu', strict=True)
        for k, v in net.state_dict().items():
            assert torch.equal(v, other.state_dict()[k]), k
    finally:
        httpd.shutdown()
        httpd.server_close()
    cached = tmp_path / 'hub' / 'checkpoints' / 'good.pth'
    assert cached.is_file()
