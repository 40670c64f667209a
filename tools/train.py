# Copyright (c) mmscrl contributors. All rights reserved.
"""Train an mmscrl (or mmpretrain-compatible) config with MMEngine's Runner.

Flags follow mmpretrain's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]]
        [--amp] [--auto-scale-lr] [--no-validate] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}] [--local-rank N]

Multi-process: ``tools/dist_train.sh CONFIG GPUS`` (torchrun) or
``tools/slurm_train.sh PARTITION JOB CONFIG``. Without CUDA, distributed runs
use the gloo backend on CPU (see :mod:`mmscrl.compat`).

A second training into a work dir that a running training holds is refused
(:mod:`mmscrl.utils.work_dir_lock`).
"""
import os.path as osp

from mmengine.config import Config

from mmscrl.utils.cli import (add_cfg_options, add_config_arg,
                              add_launcher_arg, finalize_dataloader_cfgs,
                              make_parser, resolve_work_dir,
                              set_local_rank_env)
from mmscrl.utils.config_check import warn_unknown_top_level_keys
from mmscrl.utils.work_dir_lock import work_dir_lock


def parse_args(argv=None):
    parser = make_parser(__doc__)
    add_config_arg(parser, 'train config file path')
    parser.add_argument(
        '--work-dir',
        help='the dir to save logs and models (if omitted: the config\'s '
        'work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If a checkpoint path is given, resume from it; without a value, '
        'resume from the latest checkpoint in the work directory; if '
        'omitted, do not resume.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate the checkpoint during training (drops '
        'val_cfg, val_dataloader and val_evaluator)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale lr by actual batch size / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in all dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in all dataloaders')
    add_cfg_options(parser)
    add_launcher_arg(parser)
    args = parser.parse_args(argv)
    set_local_rank_env(args)
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config.

    ``--cfg-options`` are merged before the dataloader defaults and flags
    are applied, so the final ``num_workers`` decides whether workers can
    persist; top-level keys that nothing reads are then warned about
    (:func:`mmscrl.utils.config_check.warn_unknown_top_level_keys`).
    """
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher
    resolve_work_dir(cfg, args.work_dir, args.config)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        assert optim_wrapper in ['OptimWrapper', 'AmpOptimWrapper'], \
            '`--amp` is not supported for custom optimizer wrapper type ' \
            f'`{optim_wrapper}`.'
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError(
                '--auto-scale-lr needs an `auto_scale_lr` dict in '
                f'{args.config}')
        cfg.auto_scale_lr.enable = True

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # after the merge, so that the final num_workers decides
    finalize_dataloader_cfgs(
        cfg,
        default_persistent_workers=True,
        no_pin_memory=args.no_pin_memory,
        no_persistent_workers=args.no_persistent_workers)
    warn_unknown_top_level_keys(cfg)
    return cfg


def check_resume_checkpoint(resume) -> None:
    """Refuse ``--resume PATH`` when PATH is missing, empty or truncated.

    ``--resume`` without a path (``auto``) is checked by the Runner, which
    falls back to the newest complete checkpoint (see :mod:`mmscrl.compat`).
    Remote paths (``s3://`` ...) are not checked.

    Raises:
        FileNotFoundError: The file is missing, empty or not a complete
            ``torch.save`` archive.
    """
    if resume in (None, 'auto') or '://' in resume:
        return
    from mmscrl.compat import checkpoint_is_complete
    if osp.isdir(resume) or checkpoint_is_complete(resume):
        return
    why = ('does not exist' if not osp.exists(resume) else
           f'is empty or truncated ({osp.getsize(resume)} bytes)')
    raise FileNotFoundError(
        f'--resume {resume}: the checkpoint {why}; pass another checkpoint, '
        'or --resume alone to pick the newest complete one of the work dir')


def main(argv=None):
    args = parse_args(argv)
    from mmengine.runner import Runner

    import mmscrl  # noqa: F401  (registers modules, applies compat fixes)

    check_resume_checkpoint(args.resume)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    # one training per work dir; held from the config dump to the last save
    with work_dir_lock(cfg.work_dir):
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    main()
