# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate an mmseg transfer benchmark from pre-trained weights.

::

    python tools/benchmarks/mmsegmentation/train.py CONFIG --pretrained CKPT \
        [tools/train.py flags: --work-dir, --amp, --resume, --cfg-options,
        --launcher, ...]

``CKPT`` is any checkpoint ``mmscrl.utils.checkpoint_layout`` reads (a full
mmscrl / mmpretrain training checkpoint, a backbone-only file from
``tools/model_converters/extract_backbone.py``, or a released SCRL / DenseCL /
ORL file); ``random`` trains the random-init baseline. It is set on every
``mmscrl.PretrainedBackbone`` init_cfg of the segmentor (the same rule as the
mmdet launcher, whose ``set_pretrained`` this reuses) and checked, with its
converted / skipped / missing keys printed, before the Runner is built.

The configs keep mmseg's default scope, so mmseg's own ``EncoderDecoder``,
datasets, transforms and ``IoUMetric`` are used unchanged; training validates
at every ``val_interval`` and after the last iteration.
"""
import argparse
import importlib.util
import os.path as osp
import sys

from mmengine.config import Config

HERE = osp.dirname(osp.abspath(__file__))


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train an mmseg transfer benchmark', add_help=False)
    parser.add_argument(
        '--pretrained',
        required=True,
        help='pre-trained checkpoint (any layout), or "random"')
    return parser.parse_known_args(argv)


def main(argv=None):
    args, rest = parse_args(argv)
    det_train = _load(
        osp.join(HERE, '..', 'mmdetection', 'train.py'),
        '_mmscrl_det_benchmark_train')
    tools_train = det_train._load_tools_train()
    train_args = tools_train.parse_args(rest)

    from mmengine.runner import Runner

    import mmscrl  # noqa: F401  (registers modules, applies compat fixes)
    from mmscrl.utils.checkpoint_layout import (extract_backbone,
                                                load_checkpoint_file)

    cfg = Config.fromfile(train_args.config)
    cfg = tools_train.merge_args(cfg, train_args)
    if cfg.model.get('pretrained'):
        raise ValueError(
            f'{train_args.config}: model.pretrained='
            f'{cfg.model.pretrained!r} would load other weights into the '
            'backbone; set it to None (the weights come from --pretrained)')
    paths = det_train.set_pretrained(cfg, args.pretrained)
    if args.pretrained != det_train.RANDOM:
        ext = extract_backbone(load_checkpoint_file(args.pretrained))
        print(f'pre-trained weights {args.pretrained} -> {", ".join(paths)}'
              f'\n{ext.report()}', flush=True)
        if ext.missing:
            raise ValueError(f'{args.pretrained}: backbone keys missing: '
                             f'{ext.missing[:10]}')
    else:
        print(f'random init (no pre-trained weights) for {", ".join(paths)}',
              flush=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
    sys.exit(0)
