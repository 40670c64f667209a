# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate an mmseg transfer benchmark from pre-trained weights.

::

    python tools/benchmarks/mmsegmentation/train.py CONFIG --pretrained CKPT \
        [tools/train.py flags: --work-dir, --amp, --resume, --cfg-options,
        --launcher, ...]

``CKPT`` (a checkpoint of any layout, or ``random``) is set on every
``mmscrl.PretrainedBackbone`` init_cfg of the segmentor and checked before
the Runner is built, by the launcher shared with mmdet and the linear probe
(``tools/benchmarks/transfer_train.py``, which lists the layouts).

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
