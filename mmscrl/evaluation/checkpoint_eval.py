# Copyright (c) mmscrl contributors. All rights reserved.
"""Box-level and image-level kNN of a pre-training checkpoint.

The same measurement as :class:`mmscrl.engine.hooks.BoxKNNHook`, for a
checkpoint file after the fact (``tools/analysis_tools/box_knn_eval.py``,
the demo table of ``tools/demo/run_all_demos.py``).
"""
from typing import Dict, Optional, Sequence

import torch

from .box_knn import (IMAGENET_MEAN, IMAGENET_STD, box_knn_metrics,
                      extract_box_features, load_coco_detection, load_images)

__all__ = ['build_backbone', 'load_detection_set', 'evaluate_backbone']

RANDOM = 'random'


def build_backbone(checkpoint: str, depth: Optional[int] = None,
                   seed: int = 0) -> torch.nn.Module:
    """An mmpretrain ResNet holding the backbone of ``checkpoint``.

    Args:
        checkpoint (str): Any layout :mod:`mmscrl.utils.checkpoint_layout`
            reads, or ``'random'`` for a randomly initialised ResNet.
        depth (int, optional): ResNet depth; inferred from the checkpoint
            when None (required for ``'random'``).
        seed (int): Seed of the random initialisation. Defaults to 0.

    Returns:
        nn.Module: ResNet with ``out_indices=(3, )`` and BN, eval mode.
    """
    from mmpretrain.models import ResNet

    from mmscrl.models.utils.pretrained_backbone import PretrainedBackbone
    from mmscrl.utils.checkpoint_layout import (extract_backbone,
                                                load_checkpoint_file)
    if checkpoint == RANDOM:
        if depth is None:
            raise ValueError('build_backbone: "random" needs a depth')
        torch.manual_seed(seed)
        backbone = ResNet(depth=depth, out_indices=(3, ))
        backbone.init_weights()
        backbone.eval()  # mmpretrain's ResNet.train() returns None
        return backbone
    if depth is None:
        depth = extract_backbone(load_checkpoint_file(checkpoint)).depth
        if depth is None:
            raise ValueError(f'{checkpoint}: cannot infer the ResNet depth '
                             'from its keys; pass depth')
    backbone = ResNet(depth=depth, out_indices=(3, ))
    PretrainedBackbone(checkpoint)(backbone)
    backbone.eval()
    return backbone


def load_detection_set(ann_file: str, img_dir: str, img_size: int = 128,
                       max_images: Optional[int] = 200) -> Dict:
    """Images (resized, uint8), boxes and labels of a COCO detection set.

    Returns:
        dict: ``imgs``, ``boxes``, ``labels`` and ``num_classes`` (the
        arguments :func:`evaluate_backbone` takes).
    """
    data = load_coco_detection(ann_file, img_dir, max_images)
    loaded = load_images(data['images'], img_size)
    return dict(imgs=loaded['imgs'], boxes=loaded['boxes'],
                labels=[r['labels'] for r in data['images']],
                num_classes=len(data['classes']))


def evaluate_backbone(backbone: torch.nn.Module,
                      train: Dict,
                      val: Optional[Dict] = None,
                      ks: Sequence[int] = (20, ),
                      temperature: float = 0.07,
                      mean: Sequence[float] = IMAGENET_MEAN,
                      std: Sequence[float] = IMAGENET_STD,
                      batch_size: int = 32,
                      roi_size: int = 2,
                      stage: int = -1) -> Dict[str, float]:
    """Box/image kNN top-1 (%) of ``backbone`` (see
    :func:`mmscrl.evaluation.box_knn.box_knn_metrics`).

    Args:
        backbone (nn.Module): Returns a tuple of feature maps.
        train (dict): A :func:`load_detection_set` output (the voters).
        val (dict, optional): A second set, classified by ``train``;
            None: leave-one-out on ``train``. Defaults to None.
        ks, temperature: kNN settings. Defaults to (20, ) and 0.07.
        mean, std, batch_size, roi_size, stage: see
            :func:`mmscrl.evaluation.box_knn.extract_box_features`.
    """
    if val is not None and val['num_classes'] != train['num_classes']:
        raise ValueError(f'{train["num_classes"]} train classes but '
                         f'{val["num_classes"]} val classes')
    feats = [
        None if s is None else extract_box_features(
            backbone, s['imgs'], s['boxes'], mean, std, batch_size,
            roi_size, stage) for s in (train, val)
    ]
    return box_knn_metrics(
        feats[0], train['labels'], train['boxes'], train['num_classes'],
        val_feats=feats[1],
        val_labels=val['labels'] if val else None,
        val_boxes=val['boxes'] if val else None,
        ks=ks, temperature=temperature)
