# Copyright (c) mmscrl contributors. All rights reserved.
"""Warn about top-level config keys that nothing reads.

mmengine ignores a top-level key it does not know: a misspelt
``trian_cfg = dict(max_iters=10)`` leaves the base config's full schedule
in place, without a word. :func:`warn_unknown_top_level_keys` (called by
``tools/train.py`` and ``tools/test.py`` once the command-line options are
merged) warns about every top-level key that is neither read by mmengine's
``Runner`` (:data:`RUNNER_KEYS`, taken from ``Runner.from_cfg`` and the
``self.cfg.get(...)`` calls of mmengine 0.10.7's ``Runner`` and
``FlexibleRunner``) or by the config loader and the tools
(:data:`CONFIG_KEYS`), nor a helper variable that the shipped configs or
the OpenMMLab base configs they inherit define (:data:`HELPER_KEYS`), and
suggests the closest known key (:mod:`difflib`).

It is a warning, never an error: a config may define helper variables of
its own. Keys starting with ``_`` are taken as private helpers and not
reported. ``tests/utils/test_config_check.py`` checks that no config under
``configs/`` is reported, so a helper variable added to a shipped config
must be added to :data:`HELPER_KEYS`.
"""
import difflib
import warnings
from typing import Iterable, List, Optional

__all__ = [
    'RUNNER_KEYS', 'CONFIG_KEYS', 'HELPER_KEYS', 'known_top_level_keys',
    'unknown_top_level_keys', 'suggest_key', 'warn_unknown_top_level_keys'
]

#: keys that mmengine 0.10.7's ``Runner.from_cfg`` /
#: ``FlexibleRunner.from_cfg`` pass on, and those its ``Runner`` reads from
#: ``self.cfg`` later (model wrapper, compile, DDP options)
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'strategy', 'model_wrapper_cfg', 'sync_bn', 'find_unused_parameters',
    'activation_checkpointing', 'efficient_conv_bn_eval', 'compile'
})

#: keys read by mmengine's ``Config`` itself and by the OpenMMLab / mmscrl
#: tools (``runner_type``, ``tta_model`` / ``tta_pipeline`` of ``--tta``,
#: ``gpu_ids`` of old configs, checked by ``Runner.resume``, and
#: ``dist_params`` of mmcv 1.x-era configs)
CONFIG_KEYS = frozenset({
    '_base_', 'custom_imports', 'runner_type', 'tta_model', 'tta_pipeline',
    'gpu_ids', 'dist_params'
})

#: helper variables of the shipped configs (``configs/``) and of the
#: mmpretrain / mmdet / mmseg base configs they inherit: referenced by
#: other keys (``{{_base_.x}}``, ``_base_.x``), not read by the Runner
HELPER_KEYS = frozenset({
    # data
    'dataset_type', 'data_root', 'backend_args', 'file_client_args',
    'metainfo', 'classes', 'train_pipeline', 'val_pipeline',
    'test_pipeline', 'img_scale', 'img_scales', 'img_ratios', 'img_size',
    'crop_size', 'img_norm_cfg', 'dataset_train', 'dataset_aug',
    'box_min_size', 'bgr_mean', 'bgr_std', 'vis_backends',
    # views (self-supervised pre-training)
    'fast_views', 'view_pipeline', 'view_pipeline1', 'view_pipeline2',
    'patch_pipeline1', 'patch_pipeline2', 'patch_size', 'predictor',
    # model
    'norm_cfg', 'neck_init_cfg', 'transfer_backbone', 'transfer_init_cfg',
    'transfer_norm_cfg', 'transfer_c4_backbone',
    'transfer_c4_preprocessor', 'transfer_c4_shared_head',
    'transfer_box_train_pipeline', 'transfer_mask_train_pipeline',
    'transfer_ms_resize', 'transfer_paramwise_cfg', 'transfer_warmup',
    'transfer_precise_bn',
    # schedule
    'optimizer', 'base_lr', 'lr', 'max_epochs', 'max_iters', 'max_iter',
    'warmup_epochs', 'warmup_iters', 'interval', 'val_interval',
})


def known_top_level_keys(extra: Iterable[str] = ()) -> frozenset:
    """Every top-level key that is not reported.

    Args:
        extra (Iterable[str]): More keys to accept (e.g. a project's own
            helper variables). Defaults to ``()``.

    Returns:
        frozenset: :data:`RUNNER_KEYS` | :data:`CONFIG_KEYS` |
        :data:`HELPER_KEYS` | ``extra``.
    """
    return RUNNER_KEYS | CONFIG_KEYS | HELPER_KEYS | frozenset(extra)


def unknown_top_level_keys(cfg, extra: Iterable[str] = ()) -> List[str]:
    """The top-level keys of ``cfg`` that nothing reads, sorted.

    Args:
        cfg (mmengine.Config | dict): A loaded config (all ``_base_``
            files merged).
        extra (Iterable[str]): More keys to accept. Defaults to ``()``.

    Returns:
        list[str]: Keys that are not in :func:`known_top_level_keys` and
        do not start with ``_``.
    """
    known = known_top_level_keys(extra)
    return sorted(k for k in cfg.keys()
                  if not str(k).startswith('_') and k not in known)


def suggest_key(key: str, extra: Iterable[str] = ()) -> Optional[str]:
    """The known key closest to ``key`` (a likely misspelling), or None.

    Args:
        key (str): An unknown top-level key.
        extra (Iterable[str]): More keys to accept. Defaults to ``()``.

    Returns:
        str | None: The best :func:`difflib.get_close_matches` match
        (cutoff 0.75) among :func:`known_top_level_keys`.
    """
    match = difflib.get_close_matches(
        key, sorted(known_top_level_keys(extra)), n=1, cutoff=0.75)
    return match[0] if match else None


def warn_unknown_top_level_keys(cfg, extra: Iterable[str] = ()
                                ) -> List[str]:
    """Warn (``UserWarning``) about each top-level key nothing reads.

    Args:
        cfg (mmengine.Config | dict): The config, after ``--cfg-options``
            are merged; its ``filename`` (if any) is named in the warning.
        extra (Iterable[str]): More keys to accept. Defaults to ``()``.

    Returns:
        list[str]: The reported keys (empty if none).
    """
    unknown = unknown_top_level_keys(cfg, extra)
    source = getattr(cfg, 'filename', None) or 'config'
    for key in unknown:
        guess = suggest_key(key, extra)
        hint = f" -- did you mean '{guess}'?" if guess else ''
        warnings.warn(
            f"{source}: top-level key '{key}' is not read by mmengine's "
            f'Runner nor by mmscrl, so its value has no effect{hint}. Fix '
            'the name, or ignore this warning if it is a helper variable of '
            'your own.', UserWarning, stacklevel=2)
    return unknown
