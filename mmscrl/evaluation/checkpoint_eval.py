# Copyright (c) mmscrl contributors. All rights reserved.
"""Box-level and image-level kNN (and a linear probe) of a checkpoint.

The same measurement as :class:`mmscrl.engine.hooks.BoxKNNHook`, for a
checkpoint file after the fact (``tools/analysis_tools/box_knn_eval.py``,
the demo table of ``tools/demo/run_all_demos.py``), with *monitor variants*
to compare how well each tracks detection transfer (issue 20):

* the feature level: ``C5`` (the default, the hook's last backbone output)
  or a finer map, ``C4`` (stride 16: 8x8 at 128 px instead of C5's 4x4), any
  of C2-C5 of a ResNet whatever its ``out_indices``
  (:class:`ResNetLevels`);
* the input size: the labelled images resized to another square side, e.g.
  the 128 px demo images upsampled to 256 px (``img_size`` of
  :func:`load_detection_set`);
* the classifier: weighted cosine kNN (:mod:`mmscrl.evaluation.box_knn`) or
  a linear probe on the box features
  (:mod:`mmscrl.evaluation.box_probe`).

A variant is named by a *monitor spec* (:func:`parse_monitor`):
``[probe-]c<level>[-<img_size>]``, e.g. ``c5`` (today's measurement),
``c4``, ``c4-256``, ``probe-c4``.
"""
import re
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn as nn

from .box_knn import (IMAGENET_MEAN, IMAGENET_STD, box_knn_metrics,
                      extract_box_features, load_coco_detection, load_images)
from .box_probe import box_probe_metrics

__all__ = [
    'build_backbone', 'load_detection_set', 'evaluate_backbone',
    'ResNetLevels', 'MonitorSpec', 'parse_monitor', 'evaluate_monitors',
    'FEATURE_LEVELS'
]

RANDOM = 'random'
#: ResNet feature levels and the index of their residual stage
FEATURE_LEVELS = dict(c2=0, c3=1, c4=2, c5=3)
#: image side of the demo's labelled images (and the monitors' default)
DEFAULT_IMG_SIZE = 128


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
        nn.Module: ResNet with ``out_indices=(3, )`` and BN, eval mode
        (other levels: :class:`ResNetLevels`).
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


def _level_index(level: str) -> int:
    key = str(level).lower()
    if key not in FEATURE_LEVELS:
        raise ValueError(f'unknown feature level {level!r}; expected one of '
                         f'{", ".join(FEATURE_LEVELS)}')
    return FEATURE_LEVELS[key]


class ResNetLevels(nn.Module):
    """A ResNet whose forward returns the maps of chosen levels.

    Captures the outputs of the residual stages named by ``levels`` (C2 =
    ``layer1`` ... C5 = ``layer4``) with forward hooks during an ordinary
    forward of ``backbone``, so its ``out_indices`` (e.g. C5 only in the
    pre-training configs) and weights stay untouched. Works with mmpretrain's
    and mmdet's ``ResNet`` (their ``res_layers`` names); the wrapped module
    is a child, so ``parameters()``, ``train()`` and ``eval()`` reach it.

    Args:
        backbone (nn.Module): A ResNet with ``res_layers``.
        levels (Sequence[str]): Levels returned, in order, e.g.
            ``('c4', )``.

    Raises:
        ValueError: An unknown level, or one the backbone does not have.
        AttributeError: ``backbone`` has no ``res_layers``.
    """

    def __init__(self, backbone: nn.Module, levels: Sequence[str]):
        super().__init__()
        names = getattr(backbone, 'res_layers', None)
        if not names:
            raise AttributeError(
                f'{type(backbone).__name__} has no res_layers: feature '
                'levels C2-C5 need a ResNet (mmpretrain / mmdet)')
        self.backbone = backbone
        self.training = backbone.training  # restored as it was by callers
        self.levels = tuple(str(lv).lower() for lv in levels)
        self._layers = []
        for level in self.levels:
            idx = _level_index(level)
            if idx >= len(names):
                raise ValueError(f'{type(backbone).__name__} has '
                                 f'{len(names)} stages, no {level}')
            self._layers.append(getattr(backbone, names[idx]))

    def forward(self, x: torch.Tensor) -> tuple:
        captured = {}
        handles = [
            layer.register_forward_hook(
                lambda _m, _i, out, k=i: captured.__setitem__(k, out))
            for i, layer in enumerate(self._layers)
        ]
        try:
            self.backbone(x)
        finally:
            for h in handles:
                h.remove()
        return tuple(captured[i] for i in range(len(self._layers)))


def load_detection_set(ann_file: str, img_dir: str,
                       img_size: int = DEFAULT_IMG_SIZE,
                       max_images: Optional[int] = 200) -> Dict:
    """Images (resized, uint8), boxes and labels of a COCO detection set.

    Args:
        ann_file (str): COCO detection json.
        img_dir (str): Folder of its images.
        img_size (int): Square side the images are resized to (boxes
            scaled alike); larger than the files' side upsamples (bilinear,
            ``mmcv.imresize``). Defaults to 128.
        max_images (int, optional): First images with a box used. Defaults
            to 200.

    Returns:
        dict: ``imgs``, ``boxes``, ``labels``, ``num_classes`` (the
        arguments :func:`evaluate_backbone` takes) and ``img_size``.
    """
    data = load_coco_detection(ann_file, img_dir, max_images)
    loaded = load_images(data['images'], img_size)
    return dict(imgs=loaded['imgs'], boxes=loaded['boxes'],
                labels=[r['labels'] for r in data['images']],
                num_classes=len(data['classes']), img_size=int(img_size))


def _extract(backbone, sets, feature_level, mean, std, batch_size, roi_size,
             stage):
    if feature_level is not None:
        backbone, stage = ResNetLevels(backbone, (feature_level, )), 0
    return [
        None if s is None else extract_box_features(
            backbone, s['imgs'], s['boxes'], mean, std, batch_size,
            roi_size, stage) for s in sets
    ]


def _check_sets(train, val):
    if val is not None and val['num_classes'] != train['num_classes']:
        raise ValueError(f'{train["num_classes"]} train classes but '
                         f'{val["num_classes"]} val classes')


def evaluate_backbone(backbone: torch.nn.Module,
                      train: Dict,
                      val: Optional[Dict] = None,
                      ks: Sequence[int] = (20, ),
                      temperature: float = 0.07,
                      mean: Sequence[float] = IMAGENET_MEAN,
                      std: Sequence[float] = IMAGENET_STD,
                      batch_size: int = 32,
                      roi_size: int = 2,
                      stage: int = -1,
                      feature_level: Optional[str] = None,
                      probe: bool = False) -> Dict[str, float]:
    """Box/image kNN top-1 (%) of ``backbone`` (see
    :func:`mmscrl.evaluation.box_knn.box_knn_metrics`), optionally with the
    box linear probe (:func:`mmscrl.evaluation.box_probe.box_probe_metrics`).

    Args:
        backbone (nn.Module): Returns a tuple of feature maps.
        train (dict): A :func:`load_detection_set` output (the voters, and
            the probe's training set).
        val (dict, optional): A second set, classified by ``train``;
            None: leave-one-out on ``train``. Defaults to None.
        ks, temperature: kNN settings. Defaults to (20, ) and 0.07.
        mean, std, batch_size, roi_size, stage: see
            :func:`mmscrl.evaluation.box_knn.extract_box_features`.
        feature_level (str, optional): ``'c2'``-``'c5'``: use that ResNet
            level (:class:`ResNetLevels`) instead of output ``stage``.
            Defaults to None (output ``stage``).
        probe (bool): Also fit the box linear probe on ``train`` and score
            it on ``val`` (``box_probe_top1``; needs ``val``). Defaults to
            False.
    """
    _check_sets(train, val)
    if probe and val is None:
        raise ValueError('evaluate_backbone: probe=True needs a val set '
                         '(the probe is fitted on train, scored on val)')
    feats = _extract(backbone, (train, val), feature_level, mean, std,
                     batch_size, roi_size, stage)
    out = box_knn_metrics(
        feats[0], train['labels'], train['boxes'], train['num_classes'],
        val_feats=feats[1],
        val_labels=val['labels'] if val else None,
        val_boxes=val['boxes'] if val else None,
        ks=ks, temperature=temperature)
    if probe:
        out['box_probe_top1'] = box_probe_metrics(
            feats[0], train['labels'], train['num_classes'], feats[1],
            val['labels'])['box_probe_top1']
    return out


class MonitorSpec(NamedTuple):
    """A monitor variant (see :func:`parse_monitor`)."""
    name: str  #: the spec as written, lower case, e.g. ``'probe-c4-256'``
    kind: str  #: ``'knn'`` or ``'probe'``
    level: str  #: ``'c2'`` ... ``'c5'``
    img_size: int  #: square input side (px)

    @property
    def metrics(self) -> List[str]:
        """Metric keys the monitor reports."""
        if self.kind == 'probe':
            return ['box_probe_top1']
        return ['box_knn_top1', 'image_knn_top1']


_MONITOR_RE = re.compile(r'^(probe-)?(c[2-5])(?:-(\d+))?$')


def parse_monitor(spec: str,
                  default_img_size: int = DEFAULT_IMG_SIZE) -> MonitorSpec:
    """Parse a monitor spec ``[probe-]c<level>[-<img_size>]``.

    ``c5`` is today's measurement (kNN on C5 of the 128 px images),
    ``c4-256`` kNN on C4 of the images resized to 256 px, ``probe-c4`` the
    box linear probe on C4 at 128 px.

    Args:
        spec (str): The spec (case-insensitive).
        default_img_size (int): Input side when the spec names none.
            Defaults to 128.

    Returns:
        MonitorSpec: ``name``, ``kind``, ``level``, ``img_size``.

    Raises:
        ValueError: A spec that does not parse, or an input side < 32 px.
    """
    m = _MONITOR_RE.match(str(spec).strip().lower())
    if m is None:
        raise ValueError(
            f'monitor {spec!r}: expected [probe-]c<2-5>[-<img_size>], e.g. '
            'c5, c4, c4-256, probe-c4')
    size = int(m.group(3)) if m.group(3) else int(default_img_size)
    if size < 32:
        raise ValueError(f'monitor {spec!r}: input side {size} px < 32 (a '
                         'ResNet C5 map would be under 1x1)')
    return MonitorSpec(name=m.group(0), kind='probe' if m.group(1) else 'knn',
                       level=m.group(2), img_size=size)


def evaluate_monitors(backbone: torch.nn.Module,
                      sets: Dict[int, tuple],
                      monitors: Sequence[MonitorSpec],
                      k: int = 20,
                      temperature: float = 0.07,
                      mean: Sequence[float] = IMAGENET_MEAN,
                      std: Sequence[float] = IMAGENET_STD,
                      batch_size: int = 32,
                      roi_size: int = 2,
                      feature_cache: Optional[Dict] = None
                      ) -> Dict[str, Dict[str, float]]:
    """Every monitor of ``monitors`` on one backbone (train votes for /
    fits on val).

    The box/image features of each (level, input size) are extracted once
    and shared by the kNN and the probe monitors that need them.

    Args:
        backbone (nn.Module): A ResNet (levels via :class:`ResNetLevels`).
        sets (dict): Input side -> ``(train, val)``, both
            :func:`load_detection_set` outputs of that side.
        monitors (Sequence[MonitorSpec]): :func:`parse_monitor` outputs.
        k, temperature: kNN settings. Defaults to 20 and 0.07.
        mean, std, batch_size, roi_size: see
            :func:`mmscrl.evaluation.box_knn.extract_box_features`.
        feature_cache (dict, optional): Features by (level, input side),
            filled and reused, so that several calls on the same backbone
            extract each only once. Defaults to None (a fresh one).

    Returns:
        dict: monitor name -> its metrics (``box_knn_top1`` and
        ``image_knn_top1``, or ``box_probe_top1``; %).

    Raises:
        KeyError: ``sets`` lacks a monitor's input side.
    """
    feats = {} if feature_cache is None else feature_cache
    out = {}
    for mon in monitors:
        if mon.img_size not in sets:
            raise KeyError(f'monitor {mon.name}: no labelled set loaded at '
                           f'{mon.img_size} px (have {sorted(sets)})')
        train, val = sets[mon.img_size]
        _check_sets(train, val)
        key = (mon.level, mon.img_size)
        if key not in feats:
            feats[key] = _extract(backbone, (train, val), mon.level, mean,
                                  std, batch_size, roi_size, -1)
        f_train, f_val = feats[key]
        if mon.kind == 'probe':
            res = box_probe_metrics(f_train, train['labels'],
                                    train['num_classes'], f_val,
                                    val['labels'])
            out[mon.name] = dict(box_probe_top1=res['box_probe_top1'])
        else:
            res = box_knn_metrics(
                f_train, train['labels'], train['boxes'],
                train['num_classes'], val_feats=f_val,
                val_labels=val['labels'], val_boxes=val['boxes'], ks=(k, ),
                temperature=temperature)
            out[mon.name] = dict(box_knn_top1=res[f'box_k{k}_top1'],
                                 image_knn_top1=res[f'image_k{k}_top1'])
    return out
