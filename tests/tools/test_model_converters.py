# Copyright (c) mmscrl contributors. All rights reserved.
"""tools/model_converters/extract_backbone.py + utils/checkpoint_layout.py.

Every supported input layout (mmscrl training checkpoints of SCRL, DenseCL,
ORL, BYOL, MoCo; the released SCRL / DenseCL / ORL files; OpenSelfSup and MoCo
training checkpoints; torchvision) is converted to the three output formats;
outputs load with ``weights_only=True`` and reproduce the original backbone.
"""
import pickle

import pytest
import torch
import torch.nn as nn
import torchvision
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl.registry import MODELS
from mmscrl.utils.checkpoint_layout import (CheckpointLayoutError,
                                            extract_backbone,
                                            resnet_state_dict_keys,
                                            to_detectron2)

R18 = dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'))
BN1D = dict(type='BN1d')


def _mlp(cin, cout, pool):
    return dict(
        type='NonLinearNeck',
        in_channels=cin,
        hid_channels=32,
        out_channels=cout,
        num_layers=2,
        with_avg_pool=pool,
        norm_cfg=BN1D)


def _latent_head():
    return dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=_mlp(16, 16, False))


def _contrastive_head():
    return dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2)


# small configs of every method whose checkpoints the tools must read
METHODS = {
    'SCRL': dict(type='SCRL', backbone=R18, neck=_mlp(512, 16, False),
                 predictor=_mlp(16, 16, False)),
    'DenseCLOfficial': dict(
        type='DenseCLOfficial', backbone=R18,
        neck=dict(type='DenseCLNeck', in_channels=512, hid_channels=32,
                  out_channels=16),
        head=_contrastive_head(), queue_len=32, feat_dim=16),
    'ORL': dict(type='ORL', backbone=R18, neck=_mlp(512, 16, True),
                global_head=_latent_head(), local_intra_head=_latent_head(),
                local_inter_head=_latent_head()),
    'BYOL': dict(type='BYOL', backbone=R18, neck=_mlp(512, 16, True),
                 head=_latent_head()),
    'MoCo': dict(
        type='MoCo', backbone=R18,
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32,
                  out_channels=16, with_avg_pool=True),
        head=_contrastive_head(), queue_len=32, feat_dim=16),
}


@pytest.fixture(scope='module')
def converter(load_tool):
    """``tools/model_converters/extract_backbone.py`` as a module."""
    return load_tool('model_converters/extract_backbone.py')


@pytest.fixture(scope='module')
def build_method(perturb_weights):
    """``build_method(name)``: a METHODS model with perturbed weights."""

    def build(name):
        with DefaultScope.overwrite_default_scope('mmscrl'):
            model = MODELS.build(METHODS[name])
        perturb_weights(model, 0)
        return model

    return build


def momentum_copy(model):
    for attr in ('target_net', 'encoder_k'):
        if hasattr(model, attr):
            return getattr(model, attr)
    raise AssertionError('no momentum encoder')


@pytest.fixture(scope='module')
def torchvision_r18(perturb_weights):
    """``torchvision_r18(seed=0)``: a perturbed torchvision ResNet-18."""

    def build(seed=0):
        model = torchvision.models.resnet18()
        perturb_weights(model, seed)
        return model.eval()

    return build


def backbone_keys_r18():
    return resnet_state_dict_keys(18)


def assert_same_r18(state_dict, reference):
    assert list(state_dict) == backbone_keys_r18()
    for key in state_dict:
        assert torch.equal(state_dict[key], reference[key]), key


# --------------------------------------------------------------- layouts ---
@pytest.mark.parametrize('method', list(METHODS))
def test_mmscrl_training_checkpoints(method, tmp_path, converter, build_method,
                                     perturb_weights):
    """Online / query backbone of each method, momentum copy skipped."""
    model = build_method(method)
    perturb_weights(momentum_copy(model), 1)
    src = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict=model.state_dict(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1).state_dict()
        ), src)
    ref = model.backbone.state_dict()
    for fmt in converter.FORMATS:
        dst = tmp_path / f'{fmt}.pth'
        ext = converter.convert(str(src), str(dst), fmt)
        out = torch.load(dst, weights_only=True)
        if fmt == 'mmdet':
            assert_same_r18(out['state_dict'], ref)
            assert out['meta']['source_layout'] == 'mmengine'
        elif fmt == 'torchvision':
            assert_same_r18(out, ref)
        else:
            assert out['model'].keys() == to_detectron2(ref).keys()
    assert ext.layout == 'mmengine' and ext.depth == 18
    assert ext.missing == [] and ext.unexpected == []
    skipped_groups = {k.split('.')[0] for k in ext.skipped}
    assert 'backbone' not in skipped_groups
    assert skipped_groups & {'target_net', 'encoder_k'}
    # the momentum copy differs, so picking it would have been caught
    copy = momentum_copy(model).module[0].state_dict()
    assert not torch.equal(copy['conv1.weight'], ref['conv1.weight'])


def _scrl_official(online, target):
    """kakaobrain/scrl trainer/base.py checkpoint of two torchvision nets."""

    def network(resnet):
        net = nn.Module()
        net.encoder = nn.Sequential(*list(resnet.children())[:-2])
        net.projector = nn.Module()
        net.projector.net = nn.Sequential(nn.Linear(512, 8), nn.BatchNorm1d(8))
        return net.state_dict()

    return dict(
        tag='last',
        epoch=200,
        max_eval_score=0.0,
        online_network_state_dict=network(online),
        target_network_state_dict=network(target),
        predictor_state_dict=nn.Linear(8, 8).state_dict())


def test_scrl_official_release(tmp_path, converter, torchvision_r18):
    online, target = torchvision_r18(0), torchvision_r18(1)
    src = tmp_path / 'scrl_200ep.pth'
    torch.save(_scrl_official(online, target), src)
    dst = tmp_path / 'tv.pth'
    ext = converter.convert(str(src), str(dst), 'torchvision')
    assert ext.layout == 'scrl-official'
    assert any(k.startswith('projector.net') for k in ext.skipped)
    assert 'target_network_state_dict/*' in ext.skipped
    # loads into torchvision with only fc missing and gives the same outputs
    model = torchvision.models.resnet18()
    result = model.load_state_dict(
        torch.load(dst, weights_only=True), strict=False)
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []
    model.fc = online.fc
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), online(x))


@pytest.mark.parametrize('kind', ['densecl', 'orl', 'torchvision', 'moco',
                                  'openselfsup_full', 'openselfsup_q_only'])
def test_released_and_third_party_layouts(kind, tmp_path, torchvision_r18):
    net = torchvision_r18()
    sd = net.state_dict()
    body = {k: v for k, v in sd.items() if not k.startswith('fc.')}
    if kind == 'densecl':  # HuggingFace xinlongwang/DenseCL: backbone only
        ckpt, layout = dict(state_dict=body), 'backbone'
    elif kind == 'orl':  # OpenSelfSup extract_backbone_weights.py output
        ckpt, layout = dict(state_dict=body, author='OpenSelfSup'), 'backbone'
    elif kind == 'torchvision':
        ckpt, layout = sd, 'backbone'
    elif kind == 'moco':  # facebookresearch/moco main_moco.py
        ckpt = dict(
            epoch=200,
            arch='resnet18',
            state_dict={f'module.encoder_q.{k}': v
                        for k, v in sd.items()} | {
                            f'module.encoder_k.{k}': v + 1
                            for k, v in sd.items()
                        })
        layout = 'openselfsup'
    else:  # OpenSelfSup DenseCL training checkpoint (backbone = encoder_q[0])
        state = {f'encoder_q.0.{k}': v for k, v in body.items()}
        state |= {f'encoder_k.0.{k}': v + 1 for k, v in body.items()}
        if kind == 'openselfsup_full':
            state |= {f'backbone.{k}': v for k, v in body.items()}
        ckpt, layout = dict(meta=dict(epoch=800), state_dict=state), \
            'openselfsup'
    ext = extract_backbone(ckpt)
    assert ext.layout == layout
    assert_same_r18(ext.state_dict, sd)
    assert ext.missing == [] and ext.unexpected == []


def test_detectron2_format(tmp_path, converter, torchvision_r18):
    net = torchvision_r18()
    src = tmp_path / 'in.pth'
    torch.save(dict(state_dict=net.state_dict()), src)
    dst = tmp_path / 'd2.pth'
    converter.convert(str(src), str(dst), 'detectron2')
    out = torch.load(dst, weights_only=True)
    assert out['__author__'] == 'mmscrl' and out['matching_heuristics']
    model = out['model']
    sd = net.state_dict()
    pairs = {
        'stem.conv1.weight': 'conv1.weight',
        'stem.conv1.norm.running_var': 'bn1.running_var',
        'res2.0.conv1.norm.weight': 'layer1.0.bn1.weight',
        'res2.1.conv2.weight': 'layer1.1.conv2.weight',
        'res3.0.shortcut.weight': 'layer2.0.downsample.0.weight',
        'res3.0.shortcut.norm.bias': 'layer2.0.downsample.1.bias',
        'res5.1.conv2.norm.running_mean': 'layer4.1.bn2.running_mean',
    }
    for d2_key, tv_key in pairs.items():
        assert torch.equal(model[d2_key], sd[tv_key]), d2_key
    assert len(model) == len(sd) - 2  # no fc
    assert not any('bn' in k or 'layer' in k or 'downsample' in k
                   for k in model)
    # detectron2's own .pkl flavour (numpy arrays)
    pkl = tmp_path / 'd2.pkl'
    converter.convert(str(src), str(pkl), 'detectron2')
    with open(pkl, 'rb') as f:
        data = pickle.load(f)
    assert (data['model']['res3.0.shortcut.weight'] ==
            sd['layer2.0.downsample.0.weight'].numpy()).all()


def test_resnet_key_sets_match_real_models():
    from mmdet.models.backbones import ResNet
    for depth in (18, 50):
        keys = resnet_state_dict_keys(depth)
        assert keys == list(ResNet(depth).state_dict())
        tv = getattr(torchvision.models, f'resnet{depth}')().state_dict()
        assert keys == [k for k in tv if not k.startswith('fc.')]


# ---------------------------------------------------------------- errors ---
@pytest.mark.parametrize('content,match', [
    (dict(foo=torch.zeros(1)), 'not a checkpoint of a known layout'),
    (dict(state_dict=dict(encoder=torch.zeros(1))),
     'not a checkpoint of a known layout'),
    (dict(epoch=3, note='x'), 'not a checkpoint of a known layout'),
    (torch.zeros(3), 'expected a dict checkpoint'),
])
def test_unknown_layout_error(content, match, tmp_path, converter):
    src = tmp_path / 'bad.pth'
    torch.save(content, src)
    with pytest.raises(CheckpointLayoutError, match=match):
        converter.convert(str(src), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()


def test_unreadable_and_missing_files(tmp_path, capsys, converter):
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(CheckpointLayoutError, match='cannot be read'):
        converter.convert(str(garbage), str(tmp_path / 'o.pth'))
    with pytest.raises(FileNotFoundError):
        converter.convert(str(tmp_path / 'nope.pth'), str(tmp_path / 'o.pth'))
    (tmp_path / 'x.pkl').write_bytes(b'')
    with pytest.raises(CheckpointLayoutError, match='export format only'):
        converter.convert(str(tmp_path / 'x.pkl'), str(tmp_path / 'o.pth'))
    assert converter.main([str(garbage), str(tmp_path / 'o.pth')]) == 1
    assert 'error:' in capsys.readouterr().err


def test_missing_keys_are_reported(tmp_path, capsys, converter,
                                   torchvision_r18):
    sd = torchvision_r18().state_dict()
    del sd['layer3.1.conv2.weight']
    src = tmp_path / 'partial.pth'
    torch.save(sd, src)
    with pytest.raises(CheckpointLayoutError, match='layer3.1.conv2.weight'):
        converter.convert(str(src), str(tmp_path / 'o.pth'))
    assert converter.main(
        [str(src), str(tmp_path / 'o.pth'), '--allow-missing']) == 0
    report = capsys.readouterr().out
    assert 'converted: 119 backbone keys (ResNet-18)' in report
    assert 'skipped: 2 keys: fc.* (2)' in report
    assert 'missing: 1 keys: layer3.* (1)' in report


def test_cli_report_for_training_checkpoint(tmp_path, capsys, converter,
                                            build_method):
    model = build_method('SCRL')
    src = tmp_path / 'scrl.pth'
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), src)
    dst = tmp_path / 'out' / 'r18.pth'
    assert converter.main([str(src), str(dst), '--format', 'mmdet']) == 0
    report = capsys.readouterr().out
    assert ('layout: mmengine (backbone prefix "state_dict/backbone.")'
            in report)
    assert 'target_net.module.* (' in report and 'missing: 0 keys' in report
    assert sorted(p.name for p in dst.parent.iterdir()) == ['r18.pth']


def test_non_finite_weights_are_refused(tmp_path, capsys, converter,
                                        torchvision_r18):
    sd = torchvision_r18().state_dict()
    sd['layer2.0.bn1.running_var'][3] = float('inf')
    sd['layer4.1.conv1.weight'][0, 0, 0, 0] = float('nan')
    src = tmp_path / 'diverged.pth'
    torch.save(sd, src)
    dst = tmp_path / 'o.pth'
    with pytest.raises(CheckpointLayoutError,
                       match=r'2 backbone tensor\(s\) hold NaN/Inf '
                       r'\(layer2.0.bn1.running_var, layer4.1.conv1.weight'):
        converter.convert(str(src), str(dst))
    assert not dst.exists()
    assert converter.main([str(src), str(dst)]) == 1
    assert '--allow-non-finite' in capsys.readouterr().err
    assert converter.main([str(src), str(dst), '--allow-non-finite']) == 0
    out = torch.load(dst)['state_dict']
    assert torch.isinf(out['layer2.0.bn1.running_var'][3])


@pytest.mark.parametrize('content', [b'', b'PK\x03\x04' + b'\0' * 40])
def test_empty_or_truncated_checkpoint_is_named(content, tmp_path, converter):
    src = tmp_path / 'iter_7.pth'
    src.write_bytes(content)
    match = 'empty \\(0 bytes\\)' if not content else 'truncated zip'
    with pytest.raises(CheckpointLayoutError, match=f'iter_7.pth: .*{match}'):
        converter.convert(str(src), str(tmp_path / 'o.pth'))
