# Copyright (c) mmscrl contributors. All rights reserved.
"""The one transfer launcher behind ``tools/benchmarks/*/train.py``.

Detection (mmdet), semantic segmentation (mmseg) and the linear probe
(mmpretrain) are trained the same way: ``tools/train.py`` with every
``mmscrl.PretrainedBackbone`` init_cfg of the model pointed at the
pre-trained checkpoint (``mmscrl.models.utils.pretrained_backbone.
set_pretrained``). The checkpoint is read and its converted / skipped /
missing backbone keys are printed *before* the Runner is built, so a wrong
file fails in seconds, not after the data loaders started. Each task's
``train.py`` only adds its own flags and checks.

``--pretrained CKPT`` takes any checkpoint
``mmscrl.utils.checkpoint_layout`` reads: a full mmscrl / mmpretrain training
checkpoint (its online / query backbone), a backbone-only file from
``tools/model_converters/extract_backbone.py``, or a released SCRL / DenseCL /
ORL file; ``random`` trains the random-init baseline. The converted, skipped
and missing keys are printed.
"""
import importlib.util
import os.path as osp
import sys
from typing import Callable, List, Optional

from mmengine.config import Config

from mmscrl.utils.cli import make_parser

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
RANDOM = 'random'


def load_tools_train():
    """``tools/train.py`` as a module (its parser and config merging)."""
    path = osp.join(TOOLS, 'train.py')
    spec = importlib.util.spec_from_file_location('_mmscrl_tools_train', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: Optional[List[str]], script: str, doc: str,
               add_arguments: Optional[Callable] = None):
    """Split ``argv`` into the launcher's flags and ``tools/train.py``'s.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` if None.
        script (str): The task's ``train.py`` (its ``__file__``); the help
            shows its path from the repository root.
        doc (str): The task's module docstring; its first line says what
            the launcher trains.
        add_arguments (callable, optional): ``f(parser)`` adding the task's
            own flags.

    Returns:
        tuple: ``(args, rest)``: the launcher's namespace and the arguments
        left for ``tools/train.py``. ``-h/--help`` prints both help texts
        and exits.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser(
        doc.strip().splitlines()[0] + ' Every other argument '
        '(CONFIG, --work-dir, --amp, --resume, --cfg-options, --launcher ...) '
        'goes to tools/train.py, whose help follows.',
        prog=osp.relpath(osp.abspath(script), osp.dirname(TOOLS)),
        add_help=False)
    parser.add_argument(
        '--pretrained',
        required=True,
        help='pre-trained checkpoint (full mmscrl/mmpretrain training '
        'checkpoint, backbone-only file from extract_backbone.py, or a '
        f'released SCRL/DenseCL/ORL file), or "{RANDOM}" for the random-init '
        'baseline')
    if add_arguments is not None:
        add_arguments(parser)
    if '-h' in argv or '--help' in argv:
        parser.print_help()
        print('\n' + '-' * 30 + ' tools/train.py ' + '-' * 30)
        load_tools_train().parse_args(['--help'])  # prints, exits 0
    return parser.parse_known_args(argv)


def main(argv: Optional[List[str]], script: str, doc: str,
         add_arguments: Optional[Callable] = None,
         check: Optional[Callable] = None):
    """Parse, point the model at ``--pretrained``, check it, train.

    Args:
        argv, script, doc, add_arguments: See :func:`parse_args`.
        check (callable, optional): ``check(args, cfg, paths)`` run after the
            checkpoint is set (``paths``: the modules set) and before the
            Runner is built; raises on a config the task cannot train.

    Returns:
        mmengine.runner.Runner: The runner after training.
    """
    args, rest = parse_args(argv, script, doc, add_arguments)
    tools_train = load_tools_train()
    train_args = tools_train.parse_args(rest)

    from mmengine.runner import Runner

    import mmscrl  # noqa: F401  (registers modules, applies compat fixes)
    from mmscrl.models.utils.pretrained_backbone import set_pretrained
    from mmscrl.utils.checkpoint_layout import (extract_backbone,
                                                load_checkpoint_file)

    cfg = Config.fromfile(train_args.config)
    cfg = tools_train.merge_args(cfg, train_args)
    if cfg.model.get('pretrained'):
        raise ValueError(
            f'{train_args.config}: model.pretrained='
            f'{cfg.model.pretrained!r} would load other weights into the '
            'backbone; set it to None (the weights come from --pretrained)')
    paths = set_pretrained(cfg, args.pretrained)
    if check is not None:
        check(args, cfg, paths)
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
    return runner
