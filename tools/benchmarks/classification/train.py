# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate a linear probe on a frozen pre-trained backbone.

::

    python tools/benchmarks/classification/train.py CONFIG --pretrained CKPT \
        [tools/train.py flags: --work-dir, --amp, --resume, --cfg-options,
        --launcher, ...]

``CKPT`` is any checkpoint ``mmscrl.utils.checkpoint_layout`` reads (a full
mmscrl / mmpretrain training checkpoint, a backbone-only file from
``tools/model_converters/extract_backbone.py``, or a released SCRL / DenseCL /
ORL file); ``random`` trains the random-init baseline. It is set on every
``mmscrl.PretrainedBackbone`` init_cfg of the classifier (the launcher
shared with mmdet and mmseg, ``tools/benchmarks/transfer_train.py``) and
checked, with its converted / skipped / missing keys printed, before the
Runner is built.

The configs keep mmpretrain's default scope: its ``ImageClassifier``,
``ImageNet`` data set and ``Accuracy`` metric are used unchanged.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import transfer_train  # noqa: E402


def main(argv=None):
    return transfer_train.main(argv, __file__, __doc__)


if __name__ == '__main__':
    main()
