# Copyright (c) mmscrl contributors. All rights reserved.
"""Extract the (online / query) ResNet backbone of a checkpoint.

Inputs (auto-detected, see ``mmscrl/utils/checkpoint_layout.py``):
  * mmscrl / mmpretrain training checkpoints (SCRL, DenseCL, ORL, BYOL, MoCo):
    ``backbone.*`` is kept, ``target_net.*`` / ``encoder_k.*`` / necks /
    heads are skipped;
  * released weights: SCRL (``online_network_state_dict`` with
    ``encoder.N.*``), DenseCL and ORL backbone-only files, OpenSelfSup and
    MoCo training checkpoints, torchvision ResNets.

Outputs (``--format``), all plain tensor dicts (``torch.load(...,
weights_only=True)`` reads them):
  * ``mmdet`` (default): ``{'state_dict': {conv1.weight, ...}, 'meta': ...}``
    for mmdet/mmpretrain/mmengine ``Pretrained`` init (no prefix) and for
    ``mmscrl.PretrainedBackbone``;
  * ``torchvision``: the bare state dict, loads into
    ``torchvision.models.resnet50()`` with only ``fc.*`` missing;
  * ``detectron2``: ``{'model': {stem.conv1.weight, res2.0.conv1.norm.*,
    ...}, '__author__': 'mmscrl', 'matching_heuristics': True}`` (renaming of
    detectron2's convert-torchvision-to-detectron2.py). Use it with
    ``MODEL.PIXEL_MEAN [123.675,116.28,103.53]``, ``PIXEL_STD
    [58.395,57.12,57.375]``, ``INPUT.FORMAT RGB``, ``RESNETS.STRIDE_IN_1X1
    False``. A ``.pkl`` output name writes detectron2's pickle of numpy arrays
    instead (not readable with weights_only).

Usage::

    python tools/model_converters/extract_backbone.py IN.pth OUT.pth \
        [--format mmdet|torchvision|detectron2] [--unsafe-load]
        [--allow-missing] [--allow-non-finite]

Prints a report of converted, skipped and missing keys. A backbone holding
NaN/Inf values (a diverged run) is refused unless ``--allow-non-finite``.
The output is written atomically (temporary file + rename).
"""
import os.path as osp
import pickle
import sys

from mmscrl.utils.cli import make_parser
from mmscrl.utils.fileio import atomic_write, refuse_overwriting_input

FORMATS = ('mmdet', 'torchvision', 'detectron2')


def convert(src: str,
            dst: str,
            fmt: str = 'mmdet',
            weights_only: bool = True,
            allow_missing: bool = False,
            allow_non_finite: bool = False):
    """Convert ``src`` to ``dst``; returns the ``BackboneExtraction``.

    Args:
        src (str): Input checkpoint.
        dst (str): Output file.
        fmt (str): One of :data:`FORMATS`. Defaults to 'mmdet'.
        weights_only (bool): Load ``src`` with torch's safe unpickler.
            Defaults to True.
        allow_missing (bool): Write an incomplete ResNet. Defaults to False.
        allow_non_finite (bool): Write a backbone holding NaN/Inf values.
            Defaults to False.

    Raises:
        CheckpointLayoutError: unknown layout, a non-standard ResNet (or
            missing keys, unless ``allow_missing``) for torchvision/
            detectron2, or NaN/Inf values (unless ``allow_non_finite``).
    """
    if fmt not in FORMATS:
        raise ValueError(f'unknown --format {fmt!r}; choose from {FORMATS}')
    from mmscrl.utils.checkpoint_layout import (CheckpointLayoutError,
                                                check_finite_weights,
                                                extract_backbone,
                                                load_checkpoint_file,
                                                to_detectron2)
    refuse_overwriting_input(dst, src)
    ckpt = load_checkpoint_file(src, weights_only=weights_only)
    ext = extract_backbone(ckpt)
    if ext.depth is None and fmt != 'mmdet':
        raise CheckpointLayoutError(
            f'{src}: the backbone keys are not those of a standard ResNet '
            f'(first keys {list(ext.state_dict)[:5]}); only --format mmdet '
            'can store them')
    if (ext.missing or ext.unexpected) and not allow_missing:
        raise CheckpointLayoutError(
            f'{src}: ResNet-{ext.depth} backbone is incomplete: missing '
            f'{ext.missing[:10]} ({len(ext.missing)}), unexpected '
            f'{ext.unexpected[:10]} ({len(ext.unexpected)}); pass '
            '--allow-missing to write it anyway')
    if not allow_non_finite:
        check_finite_weights(
            ext.state_dict, src,
            advice='Use an earlier checkpoint, or pass --allow-non-finite '
            'to write it anyway.')
    meta = dict(
        source=osp.basename(src),
        source_layout=ext.layout,
        source_prefix=ext.source_prefix,
        converter='mmscrl tools/model_converters/extract_backbone.py')
    if fmt == 'mmdet':
        out = dict(state_dict=ext.state_dict, meta=meta)
    elif fmt == 'torchvision':
        out = ext.state_dict
    else:
        out = dict(
            model=to_detectron2(ext.state_dict),
            __author__='mmscrl',
            matching_heuristics=True)
    _atomic_save(out, dst, pickle_numpy=fmt == 'detectron2'
                 and dst.endswith('.pkl'))
    return ext


def _atomic_save(obj, dst: str, pickle_numpy: bool = False):
    if pickle_numpy:
        arrays = {k: v.numpy() for k, v in obj['model'].items()}
        obj = dict(obj, model=arrays)
        atomic_write(dst, lambda f: pickle.dump(obj, f))
    else:
        import torch
        atomic_write(dst, lambda f: torch.save(obj, f))


def parse_args(argv=None):
    parser = make_parser(
        'Extract the backbone of a self-supervised checkpoint')
    parser.add_argument('src', help='input checkpoint (any supported layout)')
    parser.add_argument(
        'dst', help='output file (detectron2 format: a .pkl name writes '
        "detectron2's pickle of numpy arrays)")
    parser.add_argument(
        '--format', default='mmdet', choices=FORMATS,
        help='output format: mmdet (state_dict + meta), torchvision (bare '
        'state dict) or detectron2 (renamed keys)')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load the input with weights_only=False (trusted files only)')
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='write the output even if ResNet keys are missing')
    parser.add_argument(
        '--allow-non-finite',
        action='store_true',
        help='write the output even if weights hold NaN/Inf')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import mmscrl  # noqa: F401  (allow-lists mmengine checkpoint globals)
    try:
        ext = convert(args.src, args.dst, args.format, not args.unsafe_load,
                      args.allow_missing, args.allow_non_finite)
    except (ValueError, FileNotFoundError) as e:  # incl. layout errors
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(ext.report())
    print(f'saved {args.format} backbone to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
