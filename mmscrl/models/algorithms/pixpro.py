# Copyright (c) mmscrl contributors. All rights reserved.
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models import BaseSelfSupervisor, CosineEMA
from mmpretrain.structures import DataSample

from mmscrl.registry import MODELS
from ..utils.pixpro import (pixel_propagation, pixpro_instance_loss,
                            pixpro_pixel_loss, pixpro_positive_mask,
                            pixpro_view_coords)

GEOMETRY_KEYS = ('view_crop_bbox', 'view_homography')


@MODELS.register_module()
class PixProMLP2d(BaseModule):
    """The dense two-layer MLP of PixPro: 1x1 conv (bias) -> BN -> ReLU ->
    1x1 conv (bias), no normalisation on the output.

    The projector (2048-4096-256), the instance projector and the instance
    predictor (256-4096-256) of PixPro. Submodule names follow the official
    ``MLP2d`` (``linear1``, ``bn1``, ``linear2``); the convolutions keep
    PyTorch's default initialisation, as in the official code.

    Args:
        in_channels (int): Input channels.
        hid_channels (int): Hidden channels.
        out_channels (int): Output channels.
        norm_cfg (dict): Norm of the hidden layer. Defaults to
            ``dict(type='SyncBN')``.
        init_cfg (dict, optional): Defaults to None (PyTorch defaults).
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='SyncBN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.linear1 = nn.Conv2d(in_channels, hid_channels, 1, bias=True)
        self.bn1 = build_norm_layer(norm_cfg, hid_channels)[1]
        self.relu1 = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv2d(hid_channels, out_channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in, h, w) -> (N, out, h, w)."""
        return self.linear2(self.relu1(self.bn1(self.linear1(x))))


@MODELS.register_module()
class PixPro(BaseSelfSupervisor):
    """PixPro: pixel-propagation pre-training (no PixContrast).

    Xie et al., "Propagate Yourself: Exploring Pixel-Level Consistency for
    Unsupervised Visual Representation Learning", CVPR 2021
    (arXiv 2011.10043); official code zdaxie/PixPro.

    Each view goes separately through the online backbone (C5) and the dense
    projector ``neck`` (x, ``(N, 256, h, w)``); the pixel propagation module
    gives ``pred_i = normalize(sum_j max(cos(x_i, x_j), 0) ** gamma *
    normalize(g(x_j)))``. The momentum target (backbone + projector, no PPM)
    gives ``normalize(x')``. Positive pixel pairs come from the views' crop
    boxes (:func:`~mmscrl.models.utils.pixpro.pixpro_positive_mask`), and the
    loss is ``-2 cos(pred_i, x'_j)`` averaged over each image's positives,
    then over the images, in both directions:
    ``L(pred_1, x'_2) + L(pred_2, x'_1)``, in ``[-4, 4]`` (negative values
    are normal). With ``instance_loss_weight > 0`` the BYOL instance branch of
    "PixPro+" is added: ``instance_neck`` and ``predictor`` run on the dense
    C5 map and are average-pooled afterwards; the target has an EMA copy of
    ``instance_neck``.

    Where this differs from, or pins down, the official code:

    - momentum: mmpretrain's ``CosineEMA`` with ``m = 1 - tau``
      (``base_momentum=0.01`` is the official tau 0.99, annealed to
      tau = 1). Its step counter is a buffer of the checkpoint that
      advances once per training iteration, so a resumed run continues the
      schedule exactly (the official counter restarts at tau 0.99 on
      resume), and the schedule length is the runner's ``max_iters``
      (official: ``int(len(dataset) / world / batch * epochs)``, 13 and 55
      iterations longer than the run at 100 / 400 epochs, so tau ends just
      below 1 there).
    - target buffers: the target's BN buffers are copied from the online
      network at each update (mmengine's averaged models) instead of being
      its own running statistics; training is unaffected because the target
      runs in train mode (batch statistics).
    - instance branch pooling: global average pooling of whatever map size
      (official ``AvgPool2d(7)``, which only works for 224-px views).
    - the pixel loss sums its positives in fp32 under AMP.

    Args:
        backbone (dict): Backbone config; the last output is used (C5).
        neck (dict): Dense projector, e.g. ``PixProMLP2d`` 2048-4096-256.
        ppm_transform_layers (int): The value transform g of the PPM:
            0 identity, 1 one biased 1x1 conv (official scripts), 2
            ``PixProMLP2d`` with plain BN. Defaults to 1.
        ppm_gamma (float): Similarity exponent gamma. Defaults to 2.
        ppm_clamp_value (float): Lower bound of the cosine. Defaults to 0.
        pos_ratio (float): Positive threshold on the bin-centre distance over
            the larger bin diagonal (strict ``<``). Defaults to 0.7.
        base_momentum (float): ``CosineEMA`` start momentum ``1 - tau``.
            Defaults to 0.01 (tau 0.99).
        instance_loss_weight (float): Weight of the instance branch; 0 turns
            it off (it is then not even built). Defaults to 0 (the released
            scripts).
        instance_neck (dict, optional): Instance projector, e.g.
            ``PixProMLP2d`` 2048-4096-256. Required if the weight is > 0.
        predictor (dict, optional): Instance predictor, e.g. ``PixProMLP2d``
            256-4096-256. Required if the weight is > 0.
        pretrained (str, optional): Checkpoint to load. Defaults to None.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Defaults to None.

    Data samples must carry ``view_crop_bbox`` ((2, 4) xyxy original-image
    pixels), ``view_homography`` ((2, 3, 3)) and ``ori_shape`` (``(H, W)``)
    from ``MultiViewWithGeometry``, packed by
    ``PackInputs(algorithm_keys=['view_crop_bbox', 'view_homography'],
    meta_keys=['img_path', 'ori_shape'])``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 ppm_transform_layers: int = 1,
                 ppm_gamma: float = 2.,
                 ppm_clamp_value: float = 0.,
                 pos_ratio: float = 0.7,
                 base_momentum: float = 0.01,
                 instance_loss_weight: float = 0.,
                 instance_neck: Optional[dict] = None,
                 predictor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if not 0. <= base_momentum < 0.5:
            raise ValueError(
                f'PixPro: base_momentum={base_momentum} is 1 - tau in '
                "mmpretrain's CosineEMA convention (official tau 0.99 is "
                'base_momentum=0.01); values >= 0.5 look like tau itself')
        if instance_loss_weight < 0:
            raise ValueError('PixPro: instance_loss_weight must be >= 0, got '
                             f'{instance_loss_weight}')
        if instance_loss_weight > 0 and (instance_neck is None
                                         or predictor is None):
            raise ValueError(
                f'PixPro: instance_loss_weight={instance_loss_weight} needs '
                'both instance_neck and predictor (e.g. PixProMLP2d '
                '2048-4096-256 and 256-4096-256) in the model config')
        super().__init__(
            backbone=backbone,
            neck=neck,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        channels = self._neck_out_channels()
        if ppm_transform_layers == 0:
            self.value_transform = nn.Identity()
        elif ppm_transform_layers == 1:
            self.value_transform = nn.Conv2d(channels, channels, 1, bias=True)
        elif ppm_transform_layers == 2:
            self.value_transform = PixProMLP2d(
                channels, channels, channels, norm_cfg=dict(type='BN'))
        else:
            raise ValueError('PixPro: ppm_transform_layers must be 0, 1 or 2 '
                             f'(official options), got {ppm_transform_layers}')
        self.ppm_gamma = ppm_gamma
        self.ppm_clamp_value = ppm_clamp_value
        self.pos_ratio = pos_ratio
        self.instance_loss_weight = instance_loss_weight
        self.with_instance = instance_loss_weight > 0
        if self.with_instance:
            self.instance_neck = MODELS.build(instance_neck)
            self.predictor = MODELS.build(predictor)
        self.target_net = CosineEMA(self._online_target(),
                                    momentum=base_momentum)

    def _neck_out_channels(self) -> int:
        convs = [m for m in self.neck.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError('PixPro: the neck must be a dense (1x1 conv) '
                             'projector such as PixProMLP2d, got '
                             f'{type(self.neck).__name__}')
        return convs[-1].out_channels

    def _online_target(self) -> nn.Sequential:
        """The online modules the target averages, in the target's order."""
        mods = [self.backbone, self.neck]
        if self.with_instance:
            mods.append(self.instance_neck)
        return nn.Sequential(*mods)

    @staticmethod
    def view_coords(data_samples: List[DataSample],
                    device=None) -> Tuple[torch.Tensor, torch.Tensor]:
        """The two views' official normalised crop coordinates.

        Args:
            data_samples (list[DataSample]): With ``view_crop_bbox``,
                ``view_homography`` and ``ori_shape``.
            device (torch.device, optional): Where to put the result.

        Returns:
            tuple[Tensor]: ``coords1``, ``coords2``, each (N, 4).
        """
        for key in GEOMETRY_KEYS + ('ori_shape', ):
            if not all(key in s for s in data_samples):
                raise AttributeError(
                    f'PixPro: data samples carry no "{key}"; the train '
                    'pipeline must record the views with '
                    'MultiViewWithGeometry and pack them with '
                    "PackInputs(algorithm_keys=['view_crop_bbox', "
                    "'view_homography'], meta_keys=['img_path', "
                    "'ori_shape'])")
        boxes = torch.as_tensor(
            np.stack([np.asarray(s.view_crop_bbox) for s in data_samples]))
        hom = torch.as_tensor(
            np.stack([np.asarray(s.view_homography) for s in data_samples]))
        shape = torch.as_tensor(
            np.stack([np.asarray(s.ori_shape)[:2] for s in data_samples]))
        if boxes.dim() != 3 or boxes.shape[1] < 2:
            raise ValueError('PixPro: view_crop_bbox must be (2, 4) per '
                             'sample (two views), got '
                             f'{tuple(boxes.shape[1:])}')
        coords = [
            pixpro_view_coords(boxes[:, v], hom[:, v, 0, 0] < 0, shape)
            for v in (0, 1)
        ]
        return tuple(c.to(device, non_blocking=True) for c in coords)

    def _online(self, img: torch.Tensor):
        """C5, the PPM prediction and (instance branch) the pooled
        prediction of one view."""
        c5 = self.backbone(img)[-1]
        x = self.neck(c5)
        pred = pixel_propagation(x, self.value_transform(x), self.ppm_gamma,
                                 self.ppm_clamp_value)
        pred_ins = None
        if self.with_instance:
            p = self.predictor(self.instance_neck(c5))
            pred_ins = F.normalize(F.adaptive_avg_pool2d(p, 1).flatten(1),
                                   dim=1)
        return pred, pred_ins

    @torch.no_grad()
    def _target(self, img: torch.Tensor):
        """Normalised target projection (and pooled instance projection)."""
        modules = self.target_net.module
        c5 = modules[0](img)[-1]
        z = F.normalize(modules[1](c5), dim=1)
        z_ins = None
        if self.with_instance:
            z_ins = F.normalize(
                F.adaptive_avg_pool2d(modules[2](c5), 1).flatten(1), dim=1)
        return z, z_ins

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """The PixPro loss of a batch of two-view samples.

        Args:
            inputs (list[Tensor]): Views 1 and 2, each (N, 3, H, W), same
                size.
            data_samples (list[DataSample]): N samples with the views'
                geometry (see the class docstring).

        Returns:
            dict[str, Tensor]: ``loss_pix`` (both directions), ``loss_ins``
            (weighted; only with the instance branch) and ``pos_pairs``
            (mean positive pixel pairs per image, logged).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('PixPro.loss expects a list of 2 views '
                             '(MultiViewWithGeometry num_views=[1, 1]), got '
                             f'{type(inputs).__name__}')
        im1, im2 = inputs
        if im1.shape != im2.shape:
            raise ValueError('PixPro: both views must have the same size, '
                             f'got {tuple(im1.shape)} and {tuple(im2.shape)}')
        coords1, coords2 = self.view_coords(data_samples, im1.device)

        # online: each view in its own pass (per-view BN statistics)
        pred1, pred_ins1 = self._online(im1)
        pred2, pred_ins2 = self._online(im2)
        with torch.no_grad():
            self.target_net.update_parameters(self._online_target())
            z1, z_ins1 = self._target(im1)
            z2, z_ins2 = self._target(im2)

        mask12 = pixpro_positive_mask(coords1, coords2, pred1.shape[-2:],
                                      self.pos_ratio)
        # distance and max-diagonal are symmetric: the reverse direction's
        # mask is the transpose
        mask21 = mask12.transpose(1, 2)
        loss_pix = pixpro_pixel_loss(pred1, z2, mask12) + \
            pixpro_pixel_loss(pred2, z1, mask21)
        losses = dict(
            loss_pix=loss_pix,
            pos_pairs=mask12.sum((1, 2)).mean().detach())
        if self.with_instance:
            loss_ins = pixpro_instance_loss(pred_ins1, z_ins2) + \
                pixpro_instance_loss(pred_ins2, z_ins1)
            losses['loss_ins'] = self.instance_loss_weight * loss_ins
        return losses
