# Copyright (c) mmscrl contributors. All rights reserved.
"""``PretrainedBackbone``: load a pre-trained ResNet from any checkpoint.

The transfer configs (``configs/benchmarks/mmdetection``) initialise the
detector backbone, and the C4 shared head (``layer4``), with::

    init_cfg=dict(type='mmscrl.PretrainedBackbone', checkpoint=PATH)

``PATH`` may be a full mmscrl/mmpretrain training checkpoint (online or query
backbone ``backbone.*``; ``target_net.*``/``encoder_k.*`` skipped), an
officially released SCRL (``online_network_state_dict``), DenseCL or ORL file,
or a backbone-only file (see :mod:`mmscrl.utils.checkpoint_layout`), given
as a local path or as anything :class:`mmengine.runner.CheckpointLoader`
reads (``https://...``, ``torchvision://resnet50``, ``open-mmlab://...``,
``s3://...`` through mmengine's file backends). Unlike
mmengine's ``Pretrained`` with ``prefix='backbone.'`` (which needs a full
checkpoint) or without prefix (which silently loads nothing from a full one),
it accepts both layouts and fails loudly: every parameter and buffer of the
module must come from the checkpoint (except ``allow_missing`` patterns such
as the C4 head's extra ``norm`` and BN ``num_batches_tracked``), shapes must
match, no tensor may hold NaN/Inf (a diverged run; the rule of
``extract_backbone.py``, :func:`~mmscrl.utils.checkpoint_layout.
check_finite_weights`), and the converted / unused / missing keys are
logged.

mmengine runs custom (non-``Pretrained``) initializers *before* the children's
``init_weights``; mmdet's ResNet, ``ResLayer`` and their blocks have no
children initializers once ``init_cfg`` is given, so nothing re-initialises
the loaded weights (tested in ``tests/benchmarks/test_mmdet_transfer.py``).
"""
import fnmatch
import os.path as osp
from collections import OrderedDict
from typing import Sequence

from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info

from mmscrl.registry import WEIGHT_INITIALIZERS
from mmscrl.utils.checkpoint_layout import (URL_PREFIXES,
                                            check_finite_weights,
                                            extract_backbone, group_keys,
                                            load_checkpoint_file)


@WEIGHT_INITIALIZERS.register_module()
class PretrainedBackbone:
    """Initialise a ResNet-like module from the backbone of a checkpoint.

    Args:
        checkpoint (str): checkpoint of any supported layout: a local file
            or a URL/scheme handled by mmengine's ``CheckpointLoader``
            (``https://``, ``torchvision://``, ``open-mmlab://`` ...).
            None raises
            an error when the weights are initialised, so that a benchmark
            never trains from scratch by accident.
        allow_missing (Sequence[str]): fnmatch patterns of module keys that
            may be absent from the checkpoint (e.g. ``('norm.*',)`` for the
            extra norm of ``ResLayerExtraNorm``). ``*num_batches_tracked`` is
            always allowed. Defaults to ().
        weights_only (bool): use torch's safe unpickler. Defaults to True.
    """

    def __init__(self,
                 checkpoint: str,
                 allow_missing: Sequence[str] = (),
                 weights_only: bool = True):
        self.checkpoint = checkpoint
        self.allow_missing = tuple(allow_missing) + ('*num_batches_tracked', )
        self.weights_only = weights_only
        self.report = None

    def _load(self) -> dict:
        """Local files and ``http(s)://`` URLs through
        :func:`load_checkpoint_file` (safe unpickler, clear errors for
        empty/truncated files; downloads cached by torch.hub); other
        ``scheme://`` names through mmengine's ``CheckpointLoader``, which
        :mod:`mmscrl.compat` routes to the same safe loader."""
        path = str(self.checkpoint)
        if osp.exists(path) or '://' not in path or path.startswith(
                URL_PREFIXES):
            return load_checkpoint_file(path, weights_only=self.weights_only)
        from mmengine.runner import CheckpointLoader
        try:
            ckpt = CheckpointLoader.load_checkpoint(
                path, map_location='cpu', logger='current')
        except Exception as e:  # noqa: BLE001 (network/backends vary)
            raise RuntimeError(
                f'PretrainedBackbone: cannot load {path} through '
                f'mmengine CheckpointLoader ({type(e).__name__}: {e})') from e
        if not isinstance(ckpt, dict):
            raise ValueError(f'PretrainedBackbone: {path} gave a '
                             f'{type(ckpt).__name__}, expected a dict')
        return ckpt

    def __call__(self, module):
        """Load the checkpoint's backbone into ``module``.

        Args:
            module (nn.Module): The ResNet-like module (or C4 head).

        Raises:
            ValueError: No checkpoint given, shape mismatches or module
                keys missing from the checkpoint.
            CheckpointLayoutError: An unknown checkpoint layout, or a
                backbone tensor holding NaN/Inf (nothing is loaded then).
        """
        name = type(module).__name__
        if not self.checkpoint:
            raise ValueError(
                f'{name}: init_cfg PretrainedBackbone has no checkpoint. '
                'Pass the pre-trained weights, e.g. tools/benchmarks/'
                'mmdetection/dist_train.sh CONFIG CHECKPOINT GPUS (or '
                '--pretrained random for a random-init baseline).')
        ckpt = self._load()
        extraction = extract_backbone(ckpt)
        source = extraction.state_dict
        # the rule of extract_backbone.py: a diverged backbone is refused
        check_finite_weights(
            source, str(self.checkpoint),
            advice=f'{name} was not initialised; use an earlier '
            'checkpoint of that run.')
        target = module.state_dict()

        loaded, missing, mismatched = OrderedDict(), [], []
        for key, value in target.items():
            if key in source:
                if source[key].shape != value.shape:
                    mismatched.append(f'{key}: checkpoint '
                                      f'{tuple(source[key].shape)} vs module '
                                      f'{tuple(value.shape)}')
                else:
                    loaded[key] = source[key]
            elif not any(
                    fnmatch.fnmatchcase(key, p) for p in self.allow_missing):
                missing.append(key)
        if mismatched or missing:
            raise ValueError(
                f'{name} cannot be initialised from {self.checkpoint} '
                f'({extraction.layout} layout, ResNet-{extraction.depth}): '
                f'{len(mismatched)} shape mismatches {mismatched[:5]}, '
                f'{len(missing)} module keys missing from the checkpoint '
                f'{missing[:10]}')
        module.load_state_dict(loaded, strict=False)
        unused = [k for k in source if k not in target]
        allowed_missing = [
            k for k in target
            if k not in source and not k.endswith('num_batches_tracked')
        ]
        self.report = dict(
            layout=extraction.layout,
            loaded=list(loaded),
            unused=unused,
            allowed_missing=allowed_missing,
            skipped=extraction.skipped)

        def fmt(keys):
            return ', '.join(f'{g} ({n})'
                             for g, n in group_keys(keys).items()) or 'none'

        print_log(
            f'PretrainedBackbone: {name} <- {self.checkpoint} '
            f'({extraction.layout} layout, backbone prefix '
            f'"{extraction.source_prefix}"): loaded {len(loaded)} keys; '
            f'checkpoint backbone keys unused here: {fmt(unused)}; '
            f'not in checkpoint (allowed): {fmt(allowed_missing)}; '
            f'non-backbone checkpoint keys skipped: '
            f'{len(extraction.skipped)}',
            logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(
                module,
                init_info=f'PretrainedBackbone: load from {self.checkpoint}')


#: the ``checkpoint`` value of :func:`set_pretrained` that means random init
RANDOM_INIT = 'random'


def _is_pretrained_backbone(init) -> bool:
    return isinstance(init, dict) and str(init.get('type', '')).split(
        '.')[-1] == PretrainedBackbone.__name__


def set_pretrained(cfg, checkpoint: str) -> list:
    """Point every :class:`PretrainedBackbone` init_cfg of ``cfg.model`` at
    ``checkpoint``, or drop them for ``'random'`` (random-init baseline).

    The transfer configs (mmdet, mmseg, linear probe) and the demo detector
    carry ``init_cfg=dict(type='mmscrl.PretrainedBackbone',
    checkpoint=None)`` on the backbone (and, for C4 detectors, on the res5
    shared head); this is the one place that fills them in, so every
    launcher and the demo load pre-trained weights the same way.

    Args:
        cfg (Config | dict): A config with a ``model`` dict; changed in
            place.
        checkpoint (str): Any checkpoint :func:`load_checkpoint_file`
            reads, or ``'random'``.

    Returns:
        list[str]: Dotted paths of the modules that were set, e.g.
        ``['model.backbone', 'model.roi_head.shared_head']``.

    Raises:
        ValueError: If the model has no ``PretrainedBackbone`` init_cfg.
    """
    found = []

    def visit(node, path):
        if isinstance(node, dict):
            init = node.get('init_cfg')
            inits = init if isinstance(init, list) else [init]
            if any(_is_pretrained_backbone(i) for i in inits):
                found.append(path)
                if checkpoint == RANDOM_INIT:
                    kept = [i for i in inits if i is not None
                            and not _is_pretrained_backbone(i)]
                    node['init_cfg'] = kept or None
                else:
                    for i in inits:
                        if _is_pretrained_backbone(i):
                            i['checkpoint'] = checkpoint
            for key, value in node.items():
                if key != 'init_cfg':
                    visit(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                visit(value, f'{path}[{i}]')

    visit(cfg['model'], 'model')
    if not found:
        raise ValueError(
            'no init_cfg of type PretrainedBackbone in the model of this '
            'config; the transfer configs in configs/benchmarks/ have one on '
            'the backbone (and the C4 shared head)')
    return found
