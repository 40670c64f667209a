# Copyright (c) mmscrl contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.structures import DataSample

from mmscrl.registry import MODELS
from ..utils import symmetric_regression_loss


@MODELS.register_module()
class ORL(BaseSelfSupervisor):
    """ORL stage 3: BYOL on global views, intra-RoI and inter-RoI pairs.

    Implementation of `Unsupervised Object-Level Representation Learning
    from Scene Images <https://arxiv.org/abs/2106.11952>`_ (official code:
    Jiahao000/ORL ``openselfsup/models/orl.py``).

    One online network (``backbone`` + one shared projector ``neck``) and
    its momentum target; three predictors (``global_head``,
    ``local_intra_head``, ``local_inter_head``). Each view type is its own
    forward call (6 online + 6 target), as official, so BN statistics are
    per input type. The loss is::

        w_g * L(img1, img2) + w_intra * L(ipatch1, ipatch2)
            + w_inter * L(kpatch1, kpatch2)

    with ``L`` the symmetrised BYOL loss
    :func:`~mmscrl.models.utils.symmetric_regression_loss` (each in [0, 8]).

    Deliberate choices (see ``configs/orl/README.md``):

    * Target update: mmpretrain ``CosineEMA`` inside :meth:`loss`, before the
      target forwards (as mmpretrain BYOL; the first call copies the online
      weights). The official ``BYOLHook`` updates after the optimizer step:
      both blend the same online weights into the target used at iteration
      ``i``, but here with the cosine momentum of index ``i`` instead of
      ``i - 1`` -- one step ahead, a negligible difference.
      ``base_momentum`` follows mmpretrain's convention ``1 - tau``:
      0.01 means tau 0.99 -> 1.
    * Samples whose ``data_samples[i].inter_valid`` is False (no RoI pair
      in the stage-2 file; never in official files) are left out of the
      inter-RoI loss; they are still forwarded, so BN sees the full batch.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config (shared by all views).
        global_head (dict): Predictor of the global views.
        local_intra_head (dict): Predictor of the intra-RoI patches.
        local_inter_head (dict): Predictor of the inter-RoI patches. The
            predictors are necks (``NonLinearNeck``), not mmpretrain
            ``LatentPredictHead``: the loss is the shared pure function.
        base_momentum (float): Start EMA momentum ``1 - tau``. Defaults to
            0.01.
        global_loss_weight (float): Defaults to 1.0.
        local_intra_loss_weight (float): Defaults to 1.0.
        local_inter_loss_weight (float): Defaults to 1.0.
        pretrained (str, optional): Checkpoint to initialise from. Defaults
            to None (official stage 3 trains from scratch).
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 global_head: dict,
                 local_intra_head: dict,
                 local_inter_head: dict,
                 base_momentum: float = 0.01,
                 global_loss_weight: float = 1.,
                 local_intra_loss_weight: float = 1.,
                 local_inter_loss_weight: float = 1.,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.global_head = MODELS.build(global_head)
        self.local_intra_head = MODELS.build(local_intra_head)
        self.local_inter_head = MODELS.build(local_inter_head)
        self.loss_weights = dict(
            global_=global_loss_weight,
            intra=local_intra_loss_weight,
            inter=local_inter_loss_weight)
        self.target_net = CosineEMA(
            nn.Sequential(self.backbone, self.neck), momentum=base_momentum)

    def _pair_loss(self, view1: torch.Tensor, view2: torch.Tensor,
                   predictor: nn.Module,
                   keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Symmetrised BYOL loss of one view pair, (N, 3, H, W) each; ``keep``
        (N,) bool selects the samples that count."""
        proj1 = self.neck(self.backbone(view1))[0]
        proj2 = self.neck(self.backbone(view2))[0]
        pred1 = predictor([proj1])[0]
        pred2 = predictor([proj2])[0]
        with torch.no_grad():
            target1 = self.target_net(view1)[0]
            target2 = self.target_net(view2)[0]
        if keep is not None:
            pred1, pred2 = pred1[keep], pred2[keep]
            target1, target2 = target1[keep], target2[keep]
        return symmetric_regression_loss(pred1, target2, pred2, target1)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the three ORL losses.

        Args:
            inputs (list[Tensor]): ``[img1, img2, ipatch1, ipatch2, kpatch1,
                kpatch2]``: two (N, 3, H, W) global views, then two
                (N, 3, h, w) intra-RoI and two inter-RoI patches.
            data_samples (list[DataSample], optional): Their ``inter_valid``
                fields (absent or None: all samples count).

        Returns:
            dict[str, Tensor]: ``loss_global``, ``loss_intra``,
            ``loss_inter`` (weighted).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 6:
            raise ValueError(
                'ORL expects inputs = [img1, img2, ipatch1, ipatch2, '
                'kpatch1, kpatch2] (6 tensors), got '
                f'{type(inputs).__name__} of length {len(inputs)}')
        img1, img2, ipatch1, ipatch2, kpatch1, kpatch2 = inputs
        keep = None
        if data_samples is not None and all(
                'inter_valid' in ds for ds in data_samples):
            valid = [bool(ds.inter_valid) for ds in data_samples]
            if not all(valid):  # all valid (the usual case): no masking,
                # which would only copy the rows (and sync on a GPU)
                keep = torch.tensor(valid, device=img1.device)
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
        w = self.loss_weights
        return dict(
            loss_global=w['global_'] *
            self._pair_loss(img1, img2, self.global_head),
            loss_intra=w['intra'] *
            self._pair_loss(ipatch1, ipatch2, self.local_intra_head),
            loss_inter=w['inter'] *
            self._pair_loss(kpatch1, kpatch2, self.local_inter_head, keep))
