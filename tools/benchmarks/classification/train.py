# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate a linear probe on a frozen pre-trained backbone.

::

    python tools/benchmarks/classification/train.py CONFIG --pretrained CKPT \
        [tools/train.py flags: --work-dir, --amp, --resume, --cfg-options,
        --launcher, ...]

``CKPT`` (a checkpoint of any layout, or ``random``) is set on every
``mmscrl.PretrainedBackbone`` init_cfg of the classifier and checked before
the Runner is built, by the launcher shared with mmdet and mmseg
(``tools/benchmarks/transfer_train.py``, which lists the layouts).

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
