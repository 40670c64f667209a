# Copyright (c) mmscrl contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models import BaseSelfSupervisor, CosineEMA
from mmpretrain.structures import DataSample

from mmscrl.registry import MODELS
from mmscrl.structures.bbox import box_pairs_to_rois
from ..utils.losses import symmetric_regression_loss
from ..utils.roi_layers import build_roi_layer


@MODELS.register_module()
class SCRL(BaseSelfSupervisor):
    """SCRL: Spatially Consistent Representation Learning.

    Roh et al., CVPR 2021 (arXiv 2103.06122); official code kakaobrain/scrl.
    BYOL on RoI features: K box pairs covering the same original-image region
    in two views (sampled per image by the ``SCRLBoxPairSampler`` transform)
    are RoIAligned 1x1 on C5 (stride 32); online ``projector -> predictor`` of
    one box regresses the target projection of its partner, symmetrically:
    ``loss = mean_pairs l(p(b1), z'(b2)) + mean_pairs l(p(b2), z'(b1))`` with
    ``l = 2 - 2 cos``. Both views (and all boxes) go through one forward pass,
    so (Sync)BN statistics are joint, as in the official code.

    Where this differs from, or pins down, the official code:

    - target init: the target starts as a copy of the online network
      (``CosineEMA`` copies on its first update); the official code
      initialises it independently at random.
    - optimizer (set in the configs): LARS with all BN parameters and biases
      excluded from LARS adaptation and weight decay; excluded parameters
      step with ``lr * g`` (the official code effectively uses
      ``lr^2 * g`` for them).
    - IoU fallback: after ``max_tries`` rejected candidates the last one is
      kept, as official (in the sampler).
    - EMA timing: the target is updated inside :meth:`loss` before its
      forward (mmpretrain style), while the official code updates it after
      ``optimizer.step``, so the cosine momentum index is one step ahead
      of the official schedule (negligible). Momentum follows
      mmpretrain's ``CosineEMA`` convention ``m = 1 - tau``:
      ``base_momentum`` 0.03 (tau 0.97, 200 ep) / 0.004 (tau 0.996,
      1000 ep), annealed to 0. Only parameters are averaged; the target BN
      uses batch statistics (train mode) and its buffers are copied.
    - box sampling: per sample in dataloader workers (official: per batch
      on the training process); the boxes reach the device as one (2N, 5)
      RoI tensor per batch.
    - RoI features are flattened to (N, C) (the official ``.squeeze()``
      breaks for K = 1).
    - no online linear probe (pre-training on unlabeled data; no labels).
    - precision: configs use ``AmpOptimWrapper``; RoIAlign runs in fp32.

    Args:
        backbone (dict): Backbone config, e.g. ResNet-50 ``out_indices=(3,)``;
            the last output is used (C5).
        neck (dict): Projector applied to flattened RoI features, e.g.
            ``NonLinearNeck`` 2048-4096-256, ``with_avg_pool=False``,
            ``with_last_bn=False``, ``with_last_bias=False``.
        predictor (dict): Online predictor, e.g. ``NonLinearNeck``
            256-4096-256 with the same flags.
        roi_layer (dict): ``mmcv.ops`` RoI layer config (``type`` names the
            class in ``mmcv.ops``; without mmcv's compiled ops ``RoIAlign``
            comes from torchvision, see
            :func:`~mmscrl.models.utils.roi_layers.build_roi_layer`).
            Defaults to output 1x1,
            ``spatial_scale=1/32``, ``sampling_ratio=0`` (adaptive, =
            torchvision's -1), ``aligned=False`` (official).
        base_momentum (float): ``CosineEMA`` start momentum ``1 - tau_base``.
            Defaults to 0.03 (200-epoch recipe).
        box_loss_weight (float): Weight of the SCRL box loss. Defaults to 1.
        image_loss_weight (float): Weight of an extra image-level BYOL loss on
            global-average-pooled C5 through the same projector/predictor
            (the official code's ``scrl.enabled=False`` path). Defaults to 0
            (pure SCRL; the branch is not even computed).
        pretrained (str, optional): Checkpoint to load. Defaults to None.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Defaults to None.

    Data samples must carry ``scrl_boxes`` ((2, K, 4) xyxy in view pixels)
    and ``scrl_box_valid`` ((K,) bool) from ``SCRLBoxPairSampler``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 predictor: dict,
                 roi_layer: dict = dict(
                     type='RoIAlign',
                     output_size=1,
                     spatial_scale=1 / 32,
                     sampling_ratio=0,
                     aligned=False),
                 base_momentum: float = 0.03,
                 box_loss_weight: float = 1.,
                 image_loss_weight: float = 0.,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        # an mmcv.ops layer (not registered); torchvision's RoIAlign where
        # mmcv has no compiled ops (mmscrl.models.utils.roi_layers)
        self.roi_layer = build_roi_layer(roi_layer)
        self.box_loss_weight = box_loss_weight
        self.image_loss_weight = image_loss_weight
        self.target_net = CosineEMA(
            nn.Sequential(self.backbone, self.neck), momentum=base_momentum)

    def _project(self, backbone: nn.Module, neck: nn.Module,
                 imgs: torch.Tensor, rois: torch.Tensor, with_image: bool):
        """C5 -> RoIAlign (fp32) -> projector; optionally GAP -> projector."""
        c5 = backbone(imgs)[-1]
        z_box = None
        if len(rois):
            roi_feats = self.roi_layer(c5.float(), rois.float())  # (2N,C,1,1)
            z_box = neck([roi_feats.flatten(1)])[0]
        z_img = neck([F.adaptive_avg_pool2d(c5, 1).flatten(1)
                      ])[0] if with_image else None
        return c5, z_box, z_img

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the SCRL loss of a batch of two-view samples.

        Args:
            inputs (list[Tensor]): Views 1 and 2, each (B, 3, H, W).
            data_samples (list[DataSample]): B samples with ``scrl_boxes`` and
                ``scrl_box_valid``.

        Returns:
            dict[str, Tensor]: ``loss_box`` (and ``loss_img`` if its weight is
            non-zero), plus ``num_pairs`` (box pairs in the batch, logged).
        """
        assert isinstance(inputs, list) and len(inputs) >= 2
        imgs = torch.cat(inputs[:2])  # [view1; view2], (2B, 3, H, W)
        device = imgs.device
        if not all('scrl_boxes' in s for s in data_samples):
            raise AttributeError(
                'SCRL: data samples carry no "scrl_boxes"; the train '
                'pipeline must run SCRLBoxPairSampler after the two views '
                "and pack its keys: PackInputs(algorithm_keys=['scrl_boxes',"
                " 'scrl_box_valid'])")
        # boxes arrive on the host (NumPy from the dataloader): gather the
        # RoI rows there and move them to the device as one tensor
        boxes = torch.stack([
            torch.as_tensor(s.scrl_boxes, dtype=torch.float32)
            for s in data_samples
        ])
        valid = torch.stack(
            [torch.as_tensor(s.scrl_box_valid) for s in data_samples])
        rois, num_pairs = box_pairs_to_rois(boxes, valid)
        rois = rois.to(device, non_blocking=True)
        with_image = self.image_loss_weight != 0

        # online network: one pass over both views and all boxes
        c5, z_box, z_img = self._project(self.backbone, self.neck, imgs, rois,
                                         with_image)
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            target_backbone, target_neck = self.target_net.module
            _, zt_box, zt_img = self._project(target_backbone, target_neck,
                                              imgs, rois, with_image)

        if num_pairs > 0:
            p1, p2 = self.predictor([z_box])[0].chunk(2)
            zt1, zt2 = zt_box.chunk(2)
            loss_box = symmetric_regression_loss(p1, zt2, p2, zt1)
        else:  # no pair in the batch: 0, yet every trainable module is in
            # the graph (zero gradients) so DDP and the optimizer stay in sync
            loss_box = c5.sum() * 0. + sum(
                p.sum() * 0. for m in (self.neck, self.predictor)
                for p in m.parameters())
        losses = dict(
            loss_box=self.box_loss_weight * loss_box,
            num_pairs=torch.tensor(float(num_pairs), device=device))
        if with_image:
            p1, p2 = self.predictor([z_img])[0].chunk(2)
            zt1, zt2 = zt_img.chunk(2)
            losses['loss_img'] = self.image_loss_weight * \
                symmetric_regression_loss(p1, zt2, p2, zt1)
        return losses
