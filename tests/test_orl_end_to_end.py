# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stages 1 -> 2 -> 3 through the real tools on CPU.

Eight generated scene images; the real configs under ``configs/orl/`` shrunk
to ResNet-18 / BN / 64 px views / 32 px patches by small override configs:

1. ``tools/train.py`` + stage-1 BYOL config -> ``iter_2.pth``;
2. ``tools/orl/selective_search.py``, ``tools/orl/extract_knn.py`` and
   ``tools/orl/generate_correspondence.py`` with that checkpoint;
3. ``tools/train.py`` + stage-3 ORL config on the correspondence file.
"""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import torch

STAGE1 = 'configs/orl/orl_resnet50_8xb64-stage1-coslr-800e_coco.py'
STAGE3 = 'configs/orl/orl_resnet50_8xb64-stage3-coslr-800e_coco.py'
N_IMAGES, K = 8, 3

COMMON = """
view = [
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.),
         interpolation='bilinear', backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter',
         brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], prob=0.8),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='Solarize', thr=128, prob=0.2),
]
small_neck = dict(in_channels=512, hid_channels=64, out_channels=32,
                  norm_cfg=dict(type='BN1d'))
small_pred = dict(in_channels=32, hid_channels=64, out_channels=32,
                  norm_cfg=dict(type='BN1d'))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.05, momentum=0.9,
                                    weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=1),
    dict(type='CosineAnnealingLR', T_max=ITERS, by_epoch=False, begin=0,
         end=ITERS),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=ITERS)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=ITERS),
    logger=dict(type='LoggerHook', interval=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
"""

STAGE1_CFG = """
_base_ = ['{base}']
ITERS = 2
""" + COMMON + """
model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=small_neck,
    head=dict(predictor=small_pred))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root='{data}', data_prefix='unlabeled/', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=[1, 1], transforms=[view, view]),
        dict(type='PackInputs'),
    ]))
"""

STAGE3_CFG = """
_base_ = ['{base}']
ITERS = 3
""" + COMMON + """
model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=small_neck,
    global_head=small_pred, local_intra_head=small_pred,
    local_inter_head=small_pred)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root='', ann_file='{corr}', data_prefix='{images}',
        topk_knn_image={k},
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='ORLCropPatches', patch_size=32),
            dict(type='ORLMultiView', global_transforms=[view, view],
                 patch_transforms=[view[1:], view[1:]]),
            dict(type='PackInputs', algorithm_keys=['inter_valid'],
                 meta_keys=['sample_idx', 'img_path', 'knn_idx']),
        ]))
"""


def _run(args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (' '.join(args) + '\n' + out.stdout[-3000:] +
                                 out.stderr[-6000:])
    return out.stdout + out.stderr


def _scalars(work_dir):
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    with open(sorted(files)[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_orl_stages_1_2_3(tmp_path, repo_root):
    from mmscrl.demo import generate_demo_dataset
    from mmscrl.orl import load_correspondence, load_knn
    paths = generate_demo_dataset(
        str(tmp_path / 'data'), num_unlabeled=N_IMAGES, num_train=0,
        num_val=0, img_size=128, seed=0)
    data_root = paths['root']
    images = paths['unlabeled']
    ann = paths['ann_unlabeled']

    # ---- stage 1: BYOL through tools/train.py
    cfg1 = tmp_path / 'stage1.py'
    cfg1.write_text(STAGE1_CFG.format(
        base=osp.join(repo_root, STAGE1), data=data_root + '/'))
    work1 = tmp_path / 'work1'
    _run(['tools/train.py', str(cfg1), '--work-dir', str(work1)], repo_root)
    ckpt1 = work1 / 'iter_2.pth'
    assert ckpt1.is_file()
    assert all(math.isfinite(s['loss']) for s in _scalars(work1)
               if 'loss' in s)

    # ---- stage 2: proposals, image kNN, RoI pairs through tools/orl/*.py
    ss, knn, corr = (str(tmp_path / f) for f in ('ss.npz', 'knn.npz',
                                                 'corr.npz'))
    _run(['tools/orl/selective_search.py', '--data-root', images,
          '--ann-file', ann, '--out', ss], repo_root)
    _run(['tools/orl/extract_knn.py', str(cfg1), str(ckpt1), '--data-root',
          images, '--ann-file', ann, '--out', knn, '--k', str(K),
          '--resize', '72', '--crop', '64', '--batch-size', '4',
          '--num-workers', '0'], repo_root)
    _run(['tools/orl/generate_correspondence.py', str(cfg1), str(ckpt1),
          '--data-root', images, '--knn', knn, '--proposals', ss, '--out',
          corr, '--min-size', '16', '--patch-size', '32', '--num-workers',
          '0'], repo_root)
    with open(ann) as f:
        order = [im['file_name'] for im in json.load(f)['images']]
    k = load_knn(knn)
    assert k.file_names == order and k.knn.shape == (N_IMAGES, K)
    assert not np.any(k.knn == np.arange(N_IMAGES)[:, None])  # self out
    c = load_correspondence(corr)
    assert c.file_names == order
    assert all(len(b) >= 1 for b in c.boxes)
    assert all(len(p) >= 1 for row in c.pairs for p in row)

    # ---- stage 3: ORL through tools/train.py on the stage-2 file
    cfg3 = tmp_path / 'stage3.py'
    cfg3.write_text(STAGE3_CFG.format(
        base=osp.join(repo_root, STAGE3), corr=corr, images=images + '/',
        k=K))
    work3 = tmp_path / 'work3'
    _run(['tools/train.py', str(cfg3), '--work-dir', str(work3)], repo_root)
    ckpt3 = work3 / 'iter_3.pth'
    assert ckpt3.is_file()
    logs = [s for s in _scalars(work3) if 'loss_inter' in s]
    assert len(logs) == 3
    for s in logs:
        for key in ('loss_global', 'loss_intra', 'loss_inter'):
            assert 0. <= s[key] <= 8.
        total = s['loss_global'] + s['loss_intra'] + s['loss_inter']
        assert abs(s['loss'] - total) < 1e-3
    state = torch.load(ckpt3, map_location='cpu')['state_dict']
    for prefix in ('backbone.', 'neck.', 'global_head.', 'local_intra_head.',
                   'local_inter_head.', 'target_net.'):
        assert any(key.startswith(prefix) for key in state), prefix
