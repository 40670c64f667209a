# Copyright (c) mmscrl contributors. All rights reserved.
"""Evaluate a trained downstream model (detector / segmentor) checkpoint.

::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]
    bash tools/dist_run.sh GPUS tools/test.py CONFIG CHECKPOINT \
        --launcher pytorch
    mim test mmscrl CONFIG --checkpoint CHECKPOINT

``CONFIG`` is a transfer config (``configs/benchmarks/mmdetection/...``,
``configs/benchmarks/mmsegmentation/...`` or ``configs/demo/faster-rcnn_*``)
and ``CHECKPOINT`` a checkpoint written by
``tools/benchmarks/mmdetection/train.py`` (or any mmdet/mmseg training of
that config). The config's ``test_dataloader`` / ``test_evaluator`` are run
with MMEngine's ``Runner.test()`` in the config's scope (mmdet / mmseg),
exactly like the downstream libraries' own ``tools/test.py``, so there is
no need to find those scripts in ``site-packages``. The backbone's
``PretrainedBackbone`` init_cfg is not used: every weight comes from
``CHECKPOINT``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate a trained detector/segmentor checkpoint on the '
        "config's test set.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='transfer config file path')
    parser.add_argument('checkpoint', help='checkpoint file (path or URL)')
    parser.add_argument(
        '--work-dir', default=None,
        help='directory for logs and metrics; default: '
        './work_dirs/<config name>')
    parser.add_argument(
        '--out', default=None,
        help='also dump the raw predictions to this .pkl file')
    parser.add_argument(
        '--show-dir', default=None,
        help='mmdet/mmseg configs: save images with predictions drawn to '
        'this folder (inside the work dir)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override settings, key=value (a.b.c=v)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _dump_metric(scope: str, out: str) -> dict:
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out}: must be a .pkl/.pickle file')
    if scope == 'mmdet':
        return dict(type='mmdet.DumpDetResults', out_file_path=out)
    return dict(type='mmengine.DumpResults', out_file_path=out)


def build_test_config(args) -> Config:
    """The config with the checkpoint, work dir and outputs set."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    missing = [k for k in ('test_dataloader', 'test_evaluator', 'test_cfg')
               if cfg.get(k, None) is None]
    if missing:
        raise KeyError(f'{args.config}: no {", ".join(missing)}; '
                       'tools/test.py needs a config with a test set')
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    scope = cfg.get('default_scope', 'mmscrl')
    if args.out:
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict) and 'metrics' not in evaluator and \
                evaluator.get('type', 'Evaluator') != 'Evaluator':
            evaluator = [evaluator]
        if isinstance(evaluator, (list, tuple)):
            evaluator = list(evaluator) + [_dump_metric(scope, args.out)]
        else:
            evaluator.metrics = list(evaluator.metrics) + [
                _dump_metric(scope, args.out)
            ]
        cfg.test_evaluator = evaluator
    if args.show_dir:
        hooks = cfg.get('default_hooks', {})
        if 'visualization' not in hooks:
            raise KeyError(f'{args.config}: --show-dir needs a '
                           'default_hooks.visualization hook (mmdet/mmseg '
                           'configs have one)')
        hooks.visualization.draw = True
        if scope == 'mmseg':
            cfg.visualizer.save_dir = args.show_dir
        else:
            hooks.visualization.test_out_dir = args.show_dir
    return cfg


def main(argv=None):
    args = parse_args(argv)
    from mmengine.runner import Runner

    import mmscrl  # noqa: F401  (registers modules, applies compat fixes)

    if not (osp.isfile(args.checkpoint) or '://' in args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    cfg = build_test_config(args)
    runner = Runner.from_cfg(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
