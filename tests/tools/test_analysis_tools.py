# Copyright (c) mmscrl contributors. All rights reserved.
"""tools/analysis_tools on every shipped pre-training config.

In-process (one interpreter for all configs). The ResNet-50 configs keep
their backbone; FLOPs are counted at 32 px for them (64 px for the ResNet-18
demo configs) so the whole module stays around a minute on 2 CPU cores.
"""
import glob
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))

import browse_dataset  # noqa: E402
import get_flops  # noqa: E402
import print_config  # noqa: E402

PRETRAIN_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', '*', '*.py')) +
    [osp.join(REPO, 'configs', 'scrl_r50_imagenet.py')])
PRETRAIN_CONFIGS = [
    c for c in PRETRAIN_CONFIGS
    if '/_base_/' not in c and '/benchmarks/' not in c
    and 'faster-rcnn' not in osp.basename(c)
]
IDS = [osp.relpath(c, REPO) for c in PRETRAIN_CONFIGS]


def test_every_pretraining_config_is_covered():
    methods = {osp.basename(osp.dirname(c)) for c in PRETRAIN_CONFIGS}
    assert {'scrl', 'densecl', 'mocov2', 'orl', 'demo'} <= methods
    assert len(PRETRAIN_CONFIGS) >= 16


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=IDS)
def test_print_config(config, capsys, tmp_path):
    out_file = tmp_path / 'resolved.py'
    cfg = print_config.main([
        config, '--cfg-options', 'randomness.seed=1234', '--out',
        str(out_file)
    ])
    text = capsys.readouterr().out
    assert f"type='{cfg.model.type}'" in text
    assert '_base_' not in text
    assert 'seed=1234' in text
    assert out_file.is_file()


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=IDS)
def test_get_flops(config, capsys):
    size = 64 if '/demo/' in config else 32
    res = get_flops.main([config, '--shape', str(size)])
    assert res['flops'] > 0 and res['params'] > 0
    assert res['model_params'] > res['params']  # two encoders + heads
    assert 'Flops:' in capsys.readouterr().out


def test_get_flops_matches_resnet50_at_224():
    """ResNet-50 at 224 px: 4.1 GMACs, 23.5 M parameters (no fc)."""
    res = get_flops.count(
        osp.join(REPO, 'configs', 'densecl',
                 'densecl_resnet50_8xb32-coslr-200e_in1k.py'), (224, ))
    assert abs(res['flops'] / 1e9 - 4.11) < 0.05
    assert abs(res['params'] / 1e6 - 23.51) < 0.05
    with_neck = get_flops.count(
        osp.join(REPO, 'configs', 'densecl',
                 'densecl_resnet50_8xb32-coslr-200e_in1k.py'), (64, ),
        part='backbone+neck')
    assert with_neck['params'] > res['params']


@pytest.fixture(scope='module')
def orl_correspondence(random_image_dir, tmp_path_factory):
    """A tiny stage-2 file over the random images (10 kNN each)."""
    from mmscrl.orl import ORLCorrespondence, save_correspondence
    names = sorted(
        osp.relpath(p, random_image_dir)
        for p in glob.glob(osp.join(random_image_dir, 'unlabeled', '*')))
    n, k = len(names), 10
    boxes = [np.array([[2, 3, 30, 30], [20, 10, 40, 44]], np.float32)] * n
    knn = np.array([[(i + j + 1) % n for j in range(k)] for i in range(n)])
    pairs = [[np.concatenate([boxes[i], boxes[knn[i, s]]], axis=1)
              for s in range(k)] for i in range(n)]
    path = tmp_path_factory.mktemp('orl') / 'corr.npz'
    save_correspondence(
        ORLCorrespondence(names, boxes, knn, pairs, dict(k=k)), str(path))
    return str(path)


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=IDS)
def test_browse_dataset(config, tmp_path, random_image_dir,
                        orl_correspondence):
    argv = [config, '--image-dir', str(random_image_dir), '--num', '2',
            '--panel', '64', '--output-dir', str(tmp_path)]
    if 'ORLDataset' in open(config).read() or 'stage3' in config or \
            osp.basename(config).startswith('orl_resnet18'):
        argv += ['--cfg-options',
                 f'train_dataloader.dataset.ann_file={orl_correspondence}']
    paths = browse_dataset.main(argv)
    assert len(paths) == 2
    img = cv2.imread(paths[0])
    assert img is not None and img.shape[0] > 64
    # at least two view panels of 64 px side by side
    assert img.shape[1] >= 2 * 64


def test_browse_dataset_draws_scrl_boxes(random_image_dir):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmscrl  # noqa: F401
    from mmscrl.registry import DATASETS
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'demo',
                 'scrl_resnet18_1xb32-coslr-500i_demo.py'))
    ds_cfg = browse_dataset.dataset_cfg_for_browsing(cfg,
                                                     str(random_image_dir))
    with DefaultScope.overwrite_default_scope('mmscrl'):
        sample = DATASETS.build(ds_cfg)[0]
    ds = sample['data_samples']
    assert ds.scrl_box_valid.any()
    drawn = browse_dataset.draw_sample(sample, panel=96)
    ds.scrl_box_valid[:] = False
    plain = browse_dataset.draw_sample(sample, panel=96)
    assert drawn.shape == plain.shape
    assert (drawn != plain).any()  # the boxes are on the picture


def test_browse_dataset_clear_errors(tmp_path):
    cfg = osp.join(REPO, 'configs', 'demo',
                   'byol_resnet18_1xb8-coslr-20i_demo.py')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        browse_dataset.main([cfg, '--image-dir', str(tmp_path / 'nowhere')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises((ValueError, RuntimeError), match='empty|no .*image|'
                       'not find|No image'):
        browse_dataset.main([cfg, '--image-dir', str(tmp_path / 'empty'),
                             '--output-dir', str(tmp_path / 'o')])
