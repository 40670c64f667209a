# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage 2a: image kNN from a stage-1 checkpoint.

Example (8 GPUs)::

    bash tools/orl/dist_extract_knn.sh configs/orl/<stage1>.py \\
        work_dirs/<stage1>/epoch_800.pth 8 \\
        --data-root data/coco/train2017 \\
        --ann-file data/coco/annotations/instances_train2017.json \\
        --out data/coco/meta/train2017_10nn_instance.npz

Features: eval-mode online projector output of Resize(256)/CenterCrop(224),
L2-normalised; k = 10 neighbours, self excluded by index. Resumable: rerun
the same command (finished chunks in --work-dir are kept).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (add_image_list_args, add_job_args,  # noqa: E402
                     make_parser, setup_launcher)


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument('config', help='stage-1 config (BYOL-like model)')
    p.add_argument('checkpoint', help='stage-1 checkpoint')
    add_image_list_args(p)
    p.add_argument('--out', required=True,
                   help='kNN file: .npz (ours) or .json (official format)')
    p.add_argument('--bank-out', default=None,
                   help='also save the N x D feature bank (.npy)')
    p.add_argument('--k', type=int, default=10,
                   help='neighbours per image (self excluded)')
    p.add_argument('--resize', type=int, default=256,
                   help='shorter image side before the centre crop')
    p.add_argument('--crop', type=int, default=224, help='centre-crop size')
    p.add_argument('--batch-size', type=int, default=64,
                   help='images per forward')
    p.add_argument('--feat-chunk', type=int, default=4096,
                   help='images per feature chunk file')
    p.add_argument('--knn-chunk', type=int, default=8192,
                   help='queries per kNN chunk file')
    add_job_args(p, launcher=True)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = setup_launcher(args)
    from mmscrl.orl.features import build_stage1_model
    from mmscrl.orl.image_knn import run_image_knn
    from mmscrl.orl.utils import read_image_list
    names = read_image_list(args.data_root, args.ann_file, args.img_list)
    model = build_stage1_model(args.config, args.checkpoint, device)
    run_image_knn(
        model, args.data_root, names, args.out,
        args.work_dir or args.out + '.parts', k=args.k, resize=args.resize,
        crop=args.crop, batch_size=args.batch_size,
        num_workers=args.num_workers, device=device,
        feat_chunk=args.feat_chunk, knn_chunk=args.knn_chunk,
        bank_file=args.bank_out, overwrite_stale=args.overwrite_stale,
        progress_interval=args.progress_interval)


if __name__ == '__main__':
    main()
