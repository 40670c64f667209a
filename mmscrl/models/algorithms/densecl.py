# Copyright (c) mmscrl contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models import BaseSelfSupervisor
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample

from mmscrl.registry import MODELS
from ..utils.dense_correspondence import (dense_argmax_match,
                                          dense_contrastive_logits,
                                          flatten_normalize,
                                          global_contrastive_logits)
from ..utils.queue import check_queue_divisible, enqueue_


@MODELS.register_module()
class DenseCLOfficial(BaseSelfSupervisor):
    """DenseCL, faithful to the paper and the official code.

    `Dense Contrastive Learning for Self-Supervised Visual Pre-Training
    <https://arxiv.org/abs/2011.09157>`_; official code
    `WXinlong/DenseCL <https://github.com/WXinlong/DenseCL>`_
    (``openselfsup/models/densecl.py``).

    Not mmpretrain's ``DenseCL``: ``type='DenseCL'`` in a config is always
    mmpretrain's model (mmscrl's clash rule, see :mod:`mmscrl.registry`),
    which differs in initialisation, key-encoder start and checks
    (``configs/densecl/README.md``); every mmscrl DenseCL config uses this
    class. It reuses
    mmpretrain's ``DenseCLNeck``, ``ContrastiveHead``, shuffle-BN functions
    and MMEngine's ``ExponentialMovingAverage``; the λ warm-up is
    mmpretrain's ``DenseCLHook`` (off by default, as in the official configs)
    and :class:`~mmscrl.engine.hooks.QueueLenCheckHook` validates the queue
    length against the global batch before training starts.

    View 1 is the query and view 2 the key (not symmetrised). With C5 maps
    ``q_b``/``k_b`` of the query/momentum backbones, ``DenseCLNeck`` outputs
    ``(q, q_grid, q2)`` and ``(k, k_grid, k2)``:

    - global: MoCo-v2 logits of ``q`` against ``k`` and ``queue``;
    - dense: each query location is matched to the key location of highest
      cosine similarity of the *backbone* features; logits of ``q_grid``
      against the matched ``k_grid`` and ``queue2``, which stores ``k2``,
      the pooled dense-head vector of each key image;
    - loss ``(1 - λ) * loss_single + λ * loss_dense`` (logged as
      ``loss_single`` and ``loss_dense``, already weighted).

    Deliberate choices (see ``configs/densecl/README.md``):

    - The official init (backbone Kaiming-normal fan_in convs with BN
      weight 1, neck Linears Kaiming fan_in) is the ``init_cfg`` of the
      backbone and neck in ``configs/_base_/models/densecl_r50.py``; built
      without it, the modules keep mmpretrain's defaults (ResNet Kaiming
      **fan_out**, PyTorch-default Linears), as mmpretrain's ``DenseCL``.
    - The key encoder is a copy of the initialised query right after
      :meth:`init_weights` (official: at construction, after init); the EMA's
      own copy on its first update is then a no-op. mmpretrain only copies
      on the first update, which gives the same training trajectory but
      leaves the key encoder un-initialised before the first step.
    - Key BN buffers follow mmpretrain (``update_buffers=False``: copied from
      the query at each update) instead of the official separate running
      statistics; training is unaffected because the key encoder runs in
      train mode (batch statistics).
    - ``queue_len % (batch * world_size) == 0`` is checked before any state
      changes, with a ``ValueError`` naming all three numbers (official and
      mmpretrain: bare ``assert`` after the forward).
    - The four unshuffles and two queue gathers are fused into one
      ``all_gather`` each (same values, fewer collectives).

    Args:
        backbone (dict): Backbone config; its last output is used as C5
            (ResNet ``out_indices=(3,)``).
        neck (dict): ``DenseCLNeck`` config.
        head (dict): ``ContrastiveHead`` config (τ = 0.2 for DenseCL).
        queue_len (int): Number of negatives in each queue. Defaults to
            65536.
        feat_dim (int): Dimension of the neck outputs. Defaults to 128.
        momentum (float): MMEngine EMA momentum, i.e. ``1 - m`` of the paper:
            ``key = (1 - momentum) * key + momentum * query``. Defaults to
            0.001 (paper m = 0.999). Values in (0.5, 1) are refused as the
            inverted convention.
        loss_lambda (float): Weight λ of the dense loss. Defaults to 0.5.
        pretrained (str, optional): Checkpoint loaded into the whole model
            (query and, via :meth:`init_weights`, key). Defaults to None.
        data_preprocessor (dict, optional): Defaults to None, i.e.
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Model-level init config.
            Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.001,
                 loss_lambda: float = 0.5,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if not 0. < momentum <= 1. or 0.5 < momentum < 1.:
            raise ValueError(
                f'DenseCLOfficial: momentum={momentum} uses the MMEngine EMA '
                'convention key = (1 - momentum) * key + momentum * query; '
                'the paper m = 0.999 is momentum=0.001 (values in (0.5, 1) '
                'are refused as the inverted convention).')
        if queue_len <= 0:
            raise ValueError(f'DenseCLOfficial: queue_len={queue_len} must '
                             'be positive')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)

        self.encoder_k = ExponentialMovingAverage(
            nn.Sequential(self.backbone, self.neck), momentum)
        self.queue_len = queue_len
        self.feat_dim = feat_dim
        self.loss_lambda = loss_lambda

        # same buffer names as mmpretrain's DenseCL (checkpoints interchange)
        self.register_buffer(
            'queue', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self.register_buffer(
            'queue2', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
        self.register_buffer('queue2_ptr', torch.zeros(1, dtype=torch.long))

    def init_weights(self) -> None:
        """Initialise the query, then copy it into the key encoder.

        The copy happens only while the EMA has never been updated, so a
        second call after training started cannot reset the key encoder.
        """
        super().init_weights()
        if int(self.encoder_k.steps) == 0:
            self.encoder_k.module.load_state_dict(
                nn.Sequential(self.backbone, self.neck).state_dict())

    def extract_feat(self, inputs: Union[torch.Tensor, List[torch.Tensor]]):
        """Backbone features of ``inputs`` (of its first view if a list)."""
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        return self.backbone(inputs)

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'`` (backbone features), ``'loss'`` or ``'predict'``."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Weighted single and dense contrastive losses of two views.

        Args:
            inputs (list[Tensor]): Query and key views, each
                ``(N, 3, H, W)``.
            data_samples (list[DataSample]): Unused.

        Returns:
            dict[str, Tensor]: ``loss_single`` ``(1 - λ) * L_g`` and
            ``loss_dense`` ``λ * L_d``.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            got = type(inputs).__name__
            if isinstance(inputs, (list, tuple)):
                got += f' of {len(inputs)} views'
            raise ValueError('DenseCLOfficial.loss expects a list of 2 views '
                             f'(MultiView(num_views=2)), got {got}')
        im_q, im_k = inputs
        check_queue_divisible(self.queue_len, im_q.size(0), get_world_size())

        # query: global vector, dense grid (NxCxS2) and normalised C5 grid
        q_c5 = self.backbone(im_q)[-1]
        q, q_grid, _ = self.neck((q_c5, ))  # q2 is unused (official)
        q = F.normalize(q, dim=1)
        q_grid = F.normalize(q_grid, dim=1)
        q_b = flatten_normalize(q_c5)

        with torch.no_grad():
            self.encoder_k.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            im_k, idx_unshuffle = batch_shuffle_ddp(im_k)
            k_c5 = self.encoder_k.module[0](im_k)[-1]
            k, k_grid, k2 = self.encoder_k.module[1]((k_c5, ))
            k, k2, k_grid, k_b = self._unshuffle_keys(
                F.normalize(k, dim=1), F.normalize(k2, dim=1),
                F.normalize(k_grid, dim=1), flatten_normalize(k_c5),
                idx_unshuffle)

        # snapshots: the queues are overwritten in place below
        l_pos, l_neg = global_contrastive_logits(q, k, self.queue.clone())
        match_idx = dense_argmax_match(q_b, k_b)
        l_pos_dense, l_neg_dense = dense_contrastive_logits(
            q_grid, k_grid, match_idx, self.queue2.clone())

        loss_single = self.head.loss(l_pos, l_neg)
        loss_dense = self.head.loss(l_pos_dense, l_neg_dense)
        losses = dict(
            loss_single=loss_single * (1 - self.loss_lambda),
            loss_dense=loss_dense * self.loss_lambda)

        self._dequeue_and_enqueue(k, k2)
        return losses

    @staticmethod
    @torch.no_grad()
    def _unshuffle_keys(k, k2, k_grid, k_b, idx_unshuffle):
        """Undo the batch shuffle of all key tensors with one gather."""
        n = k.size(0)
        sizes = [k.size(1), k2.size(1), k_grid[0].numel(), k_b[0].numel()]
        packed = torch.cat(
            [k, k2, k_grid.reshape(n, -1),
             k_b.reshape(n, -1)], dim=1)
        packed = batch_unshuffle_ddp(packed, idx_unshuffle)
        k, k2, k_grid_flat, k_b_flat = packed.split(sizes, dim=1)
        return (k, k2, k_grid_flat.reshape(k_grid.shape),
                k_b_flat.reshape(k_b.shape))

    @torch.no_grad()
    def _dequeue_and_enqueue(self, k: torch.Tensor, k2: torch.Tensor) -> None:
        """Enqueue the gathered global keys ``k`` and pooled dense ``k2``."""
        keys = torch.cat(all_gather(torch.cat([k, k2], dim=1)), dim=0)
        enqueue_(self.queue, self.queue_ptr, keys[:, :k.size(1)])
        enqueue_(self.queue2, self.queue2_ptr, keys[:, k.size(1):])

    @torch.no_grad()
    def predict(self,
                inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Normalised C5 grids (official ``forward_test``) and matches.

        Args:
            inputs (Tensor | list[Tensor]): One view ``(N, 3, H, W)`` or a
                list of views; a second view is encoded by the momentum
                backbone and matched to the first one as in training.
            data_samples (list[DataSample], optional): Filled in place if
                given. Defaults to None.

        Returns:
            list[DataSample]: per image ``q_grid`` ``(C, h, w)`` (unit norm
            over C) and, with two views, ``k_grid`` ``(C, h, w)`` and
            ``dense_match`` ``(h, w)``: flat index into view 2's ``h x w``
            grid of the best match of each view-1 location.
        """
        views = list(inputs) if isinstance(inputs, (list, tuple)) \
            else [inputs]
        q_c5 = self.backbone(views[0])[-1]
        n, c, h, w = q_c5.shape
        q_b = flatten_normalize(q_c5)
        fields = dict(q_grid=q_b.reshape(n, c, h, w))
        if len(views) > 1:
            k_c5 = self.encoder_k.module[0](views[1])[-1]
            k_b = flatten_normalize(k_c5)
            fields['k_grid'] = k_b.reshape(k_c5.shape)
            fields['dense_match'] = dense_argmax_match(q_b, k_b).reshape(
                n, h, w)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(n)]
        for i, sample in enumerate(data_samples):
            sample.set_data({key: val[i] for key, val in fields.items()})
        return data_samples
