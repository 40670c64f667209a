# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl.apis: list_models / get_model / init_model on every shipped
config."""
import glob
import os.path as osp

import pytest
import torch

from mmscrl.apis import get_model, init_model, list_models

DEMO = 'densecl_resnet18_1xb8-coslr-20i_demo'


def test_list_models_covers_every_metafile_config(repo_root):
    from mmengine.fileio import load
    names = list_models()
    expected = set()
    for meta in glob.glob(osp.join(repo_root, 'configs', '*',
                                   'metafile.yml')):
        expected |= {m['Name'].lower() for m in load(meta)['Models']}
    assert set(names) == expected and names == sorted(names)
    assert list_models('scrl*in1k') == [
        n for n in names if n.startswith('scrl') and n.endswith('in1k')
    ]
    assert not set(list_models('densecl', exclude_patterns=['*demo'])) & {
        n for n in names if n.endswith('demo')
    }


@pytest.mark.parametrize('name', list_models())
def test_get_model_builds_every_shipped_model(name):
    model = get_model(name)
    assert not model.training
    assert model.cfg.filename.endswith(name + '.py')
    # CPU-ready: no SyncBN left
    assert not any(
        isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())


def test_get_model_loads_a_checkpoint_and_overrides(tmp_path, repo_root):
    src = get_model(DEMO, init_weights=True)
    ckpt = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': src.state_dict()}, ckpt)
    cfg_file = osp.join(repo_root, 'configs', 'demo', DEMO + '.py')
    for model in (get_model(cfg_file, pretrained=str(ckpt), strict=True),
                  init_model(cfg_file, str(ckpt))):
        for k, v in src.state_dict().items():
            assert torch.equal(model.state_dict()[k], v), k
    model = get_model(DEMO, backbone=dict(depth=34))
    assert model.cfg.model.backbone.depth == 34
    assert len(model.backbone.layer1) == 3
    model = get_model(DEMO, cfg_options={'model.backbone.depth': 34})
    assert len(model.backbone.layer1) == 3


def test_get_model_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='list_models'):
        get_model('no_such_model')
    with pytest.raises(FileNotFoundError, match='missing.py'):
        get_model(str(tmp_path / 'missing.py'))
    with pytest.raises(ValueError, match='missing key "model"'):
        get_model(dict(default_scope='mmscrl'))
    with pytest.raises(ValueError, match='load_from'):
        get_model(DEMO, pretrained=True)
    with pytest.raises(RuntimeError,
                       match='unexpected key in source state_dict: foo'):
        bad = tmp_path / 'bad.pth'
        torch.save({'state_dict': {'foo': torch.zeros(1)}}, bad)
        get_model(DEMO, pretrained=str(bad), strict=True)
