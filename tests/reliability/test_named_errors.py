# Copyright (c) mmscrl contributors. All rights reserved.
"""Bad inputs of training give errors that name the file or transform."""
import copy
import os.path as osp
import shutil

import pytest
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

import mmscrl  # noqa: F401
from mmscrl.compat import ImageLoadError
from mmscrl.registry import DATASETS, MODELS, WEIGHT_INITIALIZERS
from mmscrl.utils.checkpoint_layout import CheckpointLayoutError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRL_DEMO = osp.join(REPO, 'configs', 'demo',
                     'scrl_resnet18_1xb32-coslr-500i_demo.py')


def _dataset(root, pipeline):
    init_default_scope('mmscrl')
    return DATASETS.build(
        dict(type='mmpretrain.CustomDataset', data_root=str(root),
             data_prefix='unlabeled', with_label=False, pipeline=pipeline))


def _pipeline(drop_sampler=False):
    cfg = Config.fromfile(SCRL_DEMO)
    pipeline = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    for view in pipeline[1].transforms:
        view[0].scale = 64
    pipeline[2].min_size = 16
    if drop_sampler:
        assert pipeline[2].type == 'SCRLBoxPairSampler'
        del pipeline[2]
        pipeline[-1] = dict(type='PackInputs')
    return cfg, pipeline


def test_zero_byte_image_in_training_is_named(tmp_path, tiny_demo_data):
    root = tmp_path / 'data'
    shutil.copytree(osp.join(tiny_demo_data, 'unlabeled'),
                    root / 'unlabeled')
    (root / 'unlabeled' / '000003.jpg').write_bytes(b'')
    _, pipeline = _pipeline()
    dataset = _dataset(root, pipeline)
    idx = [osp.basename(dataset.get_data_info(i)['img_path'])
           for i in range(len(dataset))].index('000003.jpg')
    with pytest.raises(ImageLoadError,
                       match=r'unlabeled/000003.jpg \(0 bytes\)'):
        dataset[idx]


def test_zero_byte_checkpoint_is_named(tmp_path):
    from mmpretrain.models import ResNet
    empty = tmp_path / 'epoch_3.pth'
    empty.write_bytes(b'')
    init = WEIGHT_INITIALIZERS.build(
        dict(type='PretrainedBackbone', checkpoint=str(empty)))
    with pytest.raises(CheckpointLayoutError,
                       match=r'epoch_3.pth: the file is empty \(0 bytes\)'):
        init(ResNet(depth=18))


def test_scrl_pipeline_without_box_sampler_is_named(tiny_demo_data):
    cfg, pipeline = _pipeline(drop_sampler=True)
    dataset = _dataset(tiny_demo_data, pipeline)
    batch = default_collate([dataset[0], dataset[1]])
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(batch, True)
    with pytest.raises(AttributeError,
                       match='must run SCRLBoxPairSampler'):
        model(**data, mode='loss')
