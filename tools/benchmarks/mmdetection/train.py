# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate an mmdet transfer benchmark from pre-trained weights.

::

    python tools/benchmarks/mmdetection/train.py CONFIG --pretrained CKPT \
        [--arch {fpn,c4}] [tools/train.py flags: --work-dir, --amp,
        --resume, --cfg-options, --launcher, ...]

``CKPT`` (a checkpoint of any layout, or ``random``) is set on *every*
``mmscrl.PretrainedBackbone`` init_cfg of the model (the backbone and, for C4
detectors, the res5 shared head, which gets layer4), so FPN and C4 configs
take the same single value; it is checked before the Runner is built by the
launcher shared with mmseg and the linear probe
(``tools/benchmarks/transfer_train.py``, which lists the layouts).
``--arch c4`` / ``fpn`` additionally asserts the detector kind (used by
dist_train_c4.sh / dist_train_fpn.sh).

Training validates on the config's val set (COCO val2017 with CocoMetric, VOC07
test with VOCMetric) at every ``val_interval`` and after the last iteration.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import transfer_train  # noqa: E402


def __getattr__(name):
    """``set_pretrained`` and ``RANDOM`` (``RANDOM_INIT``) of
    :mod:`mmscrl.models.utils.pretrained_backbone`, re-exported for callers
    and imported on first use (they need torch; ``--help`` does not)."""
    if name in ('set_pretrained', 'RANDOM'):
        from mmscrl.models.utils import pretrained_backbone
        return getattr(pretrained_backbone,
                       'RANDOM_INIT' if name == 'RANDOM' else name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def check_arch(paths: list, arch: str):
    """Assert the detector kind: C4 configs must load the shared head."""
    has_head = 'model.roi_head.shared_head' in paths
    if arch == 'c4' and not has_head:
        raise ValueError('--arch c4: the config has no roi_head.shared_head '
                         f'initialised with PretrainedBackbone (set: {paths})')
    if arch == 'fpn' and has_head:
        raise ValueError('--arch fpn given for a C4 config (it has a '
                         'pre-trained roi_head.shared_head); use --arch c4')


def _add_arguments(parser):
    parser.add_argument(
        '--arch', choices=['fpn', 'c4', 'any'], default='any',
        help='assert the detector kind: c4 requires a pre-trained '
        'roi_head.shared_head, fpn refuses one')


def main(argv=None):
    return transfer_train.main(
        argv, __file__, __doc__,
        add_arguments=_add_arguments,
        check=lambda args, cfg, paths: check_arch(paths, args.arch))


if __name__ == '__main__':
    main()
