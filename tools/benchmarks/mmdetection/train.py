# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate an mmdet transfer benchmark from pre-trained weights.

::

    python tools/benchmarks/mmdetection/train.py CONFIG --pretrained CKPT \
        [--arch {fpn,c4}] [tools/train.py flags: --work-dir, --amp,
        --resume, --cfg-options, --launcher, ...]

``CKPT`` is any checkpoint ``mmscrl.utils.checkpoint_layout`` reads: a full
mmscrl training checkpoint (online / query backbone), a backbone-only file or
a released SCRL / DenseCL / ORL file; ``random`` trains the random-init
baseline. It is set on *every* ``mmscrl.PretrainedBackbone`` init_cfg of the
model (the backbone and, for C4 detectors, the res5 shared head, which gets
layer4), so FPN and C4 configs take the same single value. The checkpoint is
checked (and its converted / skipped / missing keys printed) before the
Runner is built. ``--arch c4`` / ``fpn`` additionally asserts the detector
kind (used by dist_train_c4.sh / dist_train_fpn.sh).

Training validates on the config's val set (COCO val2017 with CocoMetric, VOC07
test with VOCMetric) at every ``val_interval`` and after the last iteration.
"""
import argparse
import importlib.util
import os.path as osp
import sys

from mmengine.config import Config

INITIALIZER = 'PretrainedBackbone'
RANDOM = 'random'


def _load_tools_train():
    path = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'train.py')
    spec = importlib.util.spec_from_file_location('_mmscrl_tools_train', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_pretrained(cfg: Config, checkpoint: str) -> list:
    """Point every ``PretrainedBackbone`` init_cfg of ``cfg.model`` at
    ``checkpoint`` (or drop them for ``'random'``).

    Returns:
        list[str]: dotted paths of the modules that were set, e.g.
        ``['model.backbone', 'model.roi_head.shared_head']``.
    """
    found = []

    def is_ours(init):
        return isinstance(init, dict) and str(init.get('type', '')).split(
            '.')[-1] == INITIALIZER

    def visit(node, path):
        if isinstance(node, dict):
            init = node.get('init_cfg')
            inits = init if isinstance(init, list) else [init]
            if any(is_ours(i) for i in inits):
                found.append(path)
                if checkpoint == RANDOM:
                    kept = [i for i in inits if i is not None
                            and not is_ours(i)]
                    node['init_cfg'] = kept or None
                else:
                    for i in inits:
                        if is_ours(i):
                            i['checkpoint'] = checkpoint
            for key, value in node.items():
                if key != 'init_cfg':
                    visit(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                visit(value, f'{path}[{i}]')

    visit(cfg.model, 'model')
    if not found:
        raise ValueError(
            f'no init_cfg of type {INITIALIZER} in the model of this config; '
            'the transfer configs in configs/benchmarks/mmdetection have one '
            'on the backbone (and the C4 shared head)')
    return found


def check_arch(paths: list, arch: str):
    """Assert the detector kind: C4 configs must load the shared head."""
    has_head = 'model.roi_head.shared_head' in paths
    if arch == 'c4' and not has_head:
        raise ValueError('--arch c4: the config has no roi_head.shared_head '
                         f'initialised with {INITIALIZER} (set: {paths})')
    if arch == 'fpn' and has_head:
        raise ValueError('--arch fpn given for a C4 config (it has a '
                         'pre-trained roi_head.shared_head); use --arch c4')


def parse_args(argv=None):
    """Split ``argv`` into this script's flags and tools/train.py's.

    ``-h/--help`` prints both help texts and exits.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog='tools/benchmarks/mmdetection/train.py',
        description='Train and evaluate an mmdet transfer benchmark from '
        'pre-trained weights. Every other argument (CONFIG, --work-dir, '
        '--amp, --resume, --cfg-options, --launcher ...) goes to '
        'tools/train.py, whose help follows.',
        add_help=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--pretrained',
        required=True,
        help='pre-trained checkpoint (full mmscrl checkpoint, backbone-only '
        f'or released file), or "{RANDOM}" for the random-init '
        'baseline')
    parser.add_argument(
        '--arch', choices=['fpn', 'c4', 'any'], default='any',
        help='assert the detector kind: c4 requires a pre-trained '
        'roi_head.shared_head, fpn refuses one')
    if '-h' in argv or '--help' in argv:
        parser.print_help()
        print('\n' + '-' * 30 + ' tools/train.py ' + '-' * 30)
        _load_tools_train().parse_args(['--help'])  # prints, exits 0
    args, rest = parser.parse_known_args(argv)
    return args, rest


def main(argv=None):
    args, rest = parse_args(argv)
    tools_train = _load_tools_train()
    train_args = tools_train.parse_args(rest)

    import mmscrl  # noqa: F401  (registers modules, applies compat fixes)
    from mmengine.runner import Runner

    from mmscrl.utils.checkpoint_layout import (extract_backbone,
                                                load_checkpoint_file)

    cfg = Config.fromfile(train_args.config)
    cfg = tools_train.merge_args(cfg, train_args)
    paths = set_pretrained(cfg, args.pretrained)
    check_arch(paths, args.arch)
    if args.pretrained != RANDOM:
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


if __name__ == '__main__':
    sys.exit(main())
