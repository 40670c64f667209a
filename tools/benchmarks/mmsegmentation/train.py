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
``mmscrl.PretrainedBackbone`` init_cfg of the segmentor (the launcher shared
with mmdet and the linear probe, ``tools/benchmarks/transfer_train.py``)
and checked, with its converted / skipped / missing keys printed, before
the Runner is built.

The configs keep mmseg's default scope, so mmseg's own ``EncoderDecoder``,
datasets, transforms and ``IoUMetric`` are used unchanged; training validates
at every ``val_interval`` and after the last iteration.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import transfer_train  # noqa: E402


def main(argv=None):
    return transfer_train.main(argv, __file__, __doc__)


if __name__ == '__main__':
    main()
