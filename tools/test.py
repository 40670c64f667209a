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

from mmengine.config import Config

from mmscrl.utils.cli import (add_cfg_options, add_config_arg,
                              add_launcher_arg, check_checkpoint_file,
                              finalize_dataloader_cfgs, make_parser,
                              resolve_work_dir, set_local_rank_env)
from mmscrl.utils.config_check import warn_unknown_top_level_keys


def parse_args(argv=None):
    parser = make_parser(
        'Evaluate a trained detector/segmentor checkpoint on the '
        "config's test set.")
    add_config_arg(parser, 'transfer config file path')
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
    add_cfg_options(parser)
    add_launcher_arg(parser)
    args = parser.parse_args(argv)
    set_local_rank_env(args)
    return args


def _dump_metric(scope: str, out: str) -> dict:
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out}: must be a .pkl/.pickle file')
    if scope == 'mmdet':
        return dict(type='mmdet.DumpDetResults', out_file_path=out)
    return dict(type='mmengine.DumpResults', out_file_path=out)


def build_test_config(args) -> Config:
    """The config with the checkpoint, work dir and outputs set.

    ``--cfg-options`` are merged first; then the final ``num_workers``
    decides ``persistent_workers``, and top-level keys that nothing reads
    are warned about.
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    finalize_dataloader_cfgs(cfg, fields=('test_dataloader', ))
    warn_unknown_top_level_keys(cfg)
    missing = [k for k in ('test_dataloader', 'test_evaluator', 'test_cfg')
               if cfg.get(k, None) is None]
    if missing:
        raise KeyError(f'{args.config}: no {", ".join(missing)}; '
                       'tools/test.py needs a config with a test set')
    cfg.launcher = args.launcher
    resolve_work_dir(cfg, args.work_dir, args.config)
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

    check_checkpoint_file(args.checkpoint)
    cfg = build_test_config(args)
    runner = Runner.from_cfg(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
