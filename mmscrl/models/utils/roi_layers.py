# Copyright (c) mmscrl contributors. All rights reserved.
"""RoI layers: mmcv's compiled ops where they exist, torchvision's otherwise.

SCRL's RoI layer (:class:`~mmscrl.models.algorithms.SCRL`) and the box k-NN
evaluation (:func:`mmscrl.evaluation.box_knn.roi_box_features`) take their
RoIAlign from ``mmcv.ops``. A stack without mmcv's compiled ops (``mmcv-lite``,
e.g. the carryable GPU benchmark kit ``tools/benchmarks/gpu_kit.sh``) cannot
import ``mmcv.ops``; there RoIAlign comes from ``torchvision.ops.roi_align``,
which implements the same algorithm (Detectron's RoIAlign, He et al., "Mask
R-CNN", ICCV 2017): bilinear samples on a regular grid in each bin, averaged;
``sampling_ratio <= 0`` means ``ceil(roi_size / output_size)`` samples per bin
side; ``aligned=True`` shifts the box by -0.5 pixel, ``aligned=False`` clamps
the RoI to at least 1x1 feature pixel. The substitution is logged once per
process. Only ``pool_mode='avg'`` exists in torchvision; other mmcv RoI layers
have no fallback and raise a clear error.
"""
import functools
import logging
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.modules.utils import _pair

__all__ = [
    'mmcv_ops_status', 'roi_align_backend', 'TorchvisionRoIAlign',
    'SparseRoIAlign', 'build_roi_layer', 'roi_align'
]

_FALLBACK_LOGGED = False


@functools.lru_cache(maxsize=None)
def mmcv_ops_status() -> Tuple[Optional[object], str]:
    """``(mmcv.ops, '')`` when mmcv's compiled ops import, else
    ``(None, reason)`` (cached for the process)."""
    try:
        from mmcv import ops
    except (ImportError, OSError) as e:  # mmcv-lite: no mmcv._ext
        return None, f'{type(e).__name__}: {e}'
    return ops, ''


def roi_align_backend() -> str:
    """Where RoIAlign comes from here: ``'mmcv.ops'`` or
    ``'torchvision.ops'``."""
    return 'mmcv.ops' if mmcv_ops_status()[0] is not None else \
        'torchvision.ops'


def _log_fallback_once(reason: str) -> None:
    global _FALLBACK_LOGGED
    if _FALLBACK_LOGGED:
        return
    _FALLBACK_LOGGED = True
    from mmengine.logging import print_log
    print_log(
        'mmscrl: mmcv compiled ops are not available (' + reason + '); '
        'RoIAlign comes from torchvision.ops.roi_align (same semantics: '
        'aligned, sampling_ratio, spatial_scale, average pooling).',
        logger='current',
        level=logging.WARNING)


def _check_pool_mode(pool_mode: str) -> None:
    if pool_mode != 'avg':
        raise ValueError(
            f"RoIAlign pool_mode={pool_mode!r} needs mmcv's compiled ops "
            "(install mmcv with ops); torchvision's roi_align averages "
            "only (pool_mode='avg')")


class TorchvisionRoIAlign(nn.Module):
    """``mmcv.ops.RoIAlign`` on ``torchvision.ops.roi_align``.

    Same arguments, defaults and results as mmcv's class (forward and
    backward), for ``pool_mode='avg'``.

    Args:
        output_size (int | tuple[int, int]): Output ``(h, w)``.
        spatial_scale (float): Feature-map pixels per RoI-coordinate unit.
            Defaults to 1.0.
        sampling_ratio (int): Samples per bin side; ``<= 0`` is adaptive.
            Defaults to 0.
        pool_mode (str): Only ``'avg'``. Defaults to ``'avg'``.
        aligned (bool): Pixel-shift the boxes by -0.5 (Detectron2).
            Defaults to True.
        use_torchvision (bool): Accepted for mmcv compatibility (this
            class always uses torchvision). Defaults to False.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True,
                 use_torchvision: bool = False) -> None:
        super().__init__()
        _check_pool_mode(pool_mode)
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.use_torchvision = use_torchvision

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """``input`` (N, C, H, W), ``rois`` (K, 5) ``(batch index, x1, y1,
        x2, y2)`` -> (K, C, out_h, out_w)."""
        from torchvision.ops import roi_align as tv_roi_align
        return tv_roi_align(input, rois.to(input.dtype), self.output_size,
                            self.spatial_scale, self.sampling_ratio,
                            self.aligned)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale}, sampling_ratio='
                f'{self.sampling_ratio}, pool_mode={self.pool_mode}, '
                f'aligned={self.aligned})')


def build_roi_layer(cfg: dict) -> nn.Module:
    """An RoI layer from an ``mmcv.ops`` config.

    Args:
        cfg (dict): ``type`` names a class of ``mmcv.ops`` (e.g.
            ``'RoIAlign'``); the other keys are its arguments.

    Returns:
        nn.Module: The mmcv layer; without mmcv's compiled ops a
        :class:`TorchvisionRoIAlign` for ``type='RoIAlign'`` (logged once).

    Raises:
        ValueError: ``type`` missing or not an ``mmcv.ops`` class.
        ImportError: Without mmcv's compiled ops, for any type but
            ``RoIAlign``.
    """
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'roi_layer must be a dict with a "type" key (an '
                         f'mmcv.ops class name), got {cfg!r}')
    cfg = dict(cfg)
    layer_type = cfg.pop('type')
    ops, reason = mmcv_ops_status()
    if ops is not None:
        layer = getattr(ops, str(layer_type), None)
        if not isinstance(layer, type) or not issubclass(layer, nn.Module):
            raise ValueError(f'roi_layer type={layer_type!r} is not an RoI '
                             'layer class of mmcv.ops (e.g. "RoIAlign")')
        layer = layer(**cfg)
        layer.register_forward_pre_hook(_nchw_input)
        return layer
    if layer_type != 'RoIAlign':
        raise ImportError(
            f'roi_layer type={layer_type!r} needs mmcv compiled ops, which '
            f'are not available ({reason}); only RoIAlign has a torchvision '
            'fallback')
    _log_fallback_once(reason)
    return TorchvisionRoIAlign(**cfg)


def _nchw_input(module, args):
    """Forward pre-hook of mmcv's RoI layers: their kernels index the
    feature map as contiguous NCHW memory and read a channels-last map
    (``mmscrl.ChannelsLastHook``) wrongly, without an error. A no-op for
    NCHW input."""
    return (args[0].contiguous(), *args[1:])


def roi_align(input: torch.Tensor,
              rois: torch.Tensor,
              output_size: Union[int, Tuple[int, int]],
              spatial_scale: float = 1.0,
              sampling_ratio: int = 0,
              pool_mode: str = 'avg',
              aligned: bool = True) -> torch.Tensor:
    """``mmcv.ops.roi_align`` (same signature), from torchvision without
    mmcv's compiled ops (logged once)."""
    ops, reason = mmcv_ops_status()
    if ops is not None:
        # contiguous: mmcv's kernels read NCHW memory (see _nchw_input)
        return ops.roi_align(input.contiguous(), rois, output_size,
                             spatial_scale, sampling_ratio, pool_mode,
                             aligned)
    _check_pool_mode(pool_mode)
    _log_fallback_once(reason)
    return TorchvisionRoIAlign(output_size, spatial_scale, sampling_ratio,
                               pool_mode, aligned)(input, rois)


class SparseRoIAlign(nn.Module):
    """``mmcv.ops.RoIAlign`` whose CPU path is a sparse matrix product.

    On CPU tensors (float32/float64, ``pool_mode='avg'``) it runs
    :func:`~mmscrl.models.utils.sparse_roi_align.sparse_roi_align`, which
    equals mmcv's kernel up to float summation order and is several times
    faster, backward included (mmcv's CPU kernel is single-threaded). On
    any other device, dtype or pool mode it runs the layer of
    :func:`build_roi_layer` (mmcv's kernel, or torchvision's without mmcv
    ops). Same arguments and defaults as mmcv's class.

    Args:
        output_size (int | tuple[int, int]): Output ``(h, w)``.
        spatial_scale (float): Feature-map pixels per RoI-coordinate unit.
            Defaults to 1.0.
        sampling_ratio (int): Samples per bin side; ``<= 0`` is adaptive.
            Defaults to 0.
        pool_mode (str): ``'avg'`` or ``'max'`` (mmcv's kernel only).
            Defaults to ``'avg'``.
        aligned (bool): Pixel-shift the boxes by -0.5. Defaults to True.
        use_torchvision (bool): Passed to mmcv's class. Defaults to False.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0,
                 sampling_ratio: int = 0,
                 pool_mode: str = 'avg',
                 aligned: bool = True,
                 use_torchvision: bool = False) -> None:
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.kernel = build_roi_layer(
            dict(type='RoIAlign', output_size=output_size,
                 spatial_scale=spatial_scale, sampling_ratio=sampling_ratio,
                 pool_mode=pool_mode, aligned=aligned,
                 use_torchvision=use_torchvision))

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """``input`` (N, C, H, W), ``rois`` (K, 5) ``(batch index, x1, y1,
        x2, y2)`` -> (K, C, out_h, out_w)."""
        if (input.device.type == 'cpu' and self.pool_mode == 'avg'
                and input.dtype in (torch.float32, torch.float64)):
            from .sparse_roi_align import sparse_roi_align
            return sparse_roi_align(input, rois, self.output_size,
                                    self.spatial_scale, self.sampling_ratio,
                                    self.aligned)
        return self.kernel(input, rois)  # NCHW for mmcv: see _nchw_input

    __repr__ = TorchvisionRoIAlign.__repr__  # same attributes, same text
