# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage 2b: selective-search proposals (OpenCV-contrib, fast mode).

Example::

    python tools/orl/selective_search.py --data-root data/coco/train2017 \\
        --ann-file data/coco/annotations/instances_train2017.json \\
        --out data/coco/meta/train2017_selective_search_proposal.npz \\
        --workers 16

All raw boxes are kept (xywh, OpenCV order); the order is made deterministic
per image by seeding the C RNG from the image path (--seed; --seed -1 keeps
OpenCV's unseeded, official behaviour). CPU only; --workers processes.
Resumable: rerun the same command (finished chunks in --work-dir are kept;
chunks made with other settings are refused, or recomputed with
--overwrite-stale).
Write ``--out *.json`` for the official JSON format.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (add_image_list_args, add_job_args,  # noqa: E402
                     make_parser)


def parse_args(argv=None):
    p = make_parser(__doc__)
    add_image_list_args(p)
    p.add_argument('--out', required=True,
                   help='proposal file: .npz (ours) or .json (official)')
    p.add_argument('--workers', type=int, default=1,
                   help='worker processes (they die with this process)')
    p.add_argument('--chunk-size', type=int, default=64,
                   help='images per chunk file')
    p.add_argument('--mode', choices=['fast', 'quality'], default='fast',
                   help='OpenCV selective-search mode (ORL: fast)')
    p.add_argument('--seed', type=int, default=0,
                   help='base seed of the per-image C RNG seed (-1: '
                   'unseeded, OpenCV\'s non-deterministic box order)')
    add_job_args(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmscrl.orl.selective_search import run_selective_search
    from mmscrl.orl.utils import read_image_list
    names = read_image_list(args.data_root, args.ann_file, args.img_list)
    run_selective_search(
        args.data_root, names, args.out, args.work_dir or args.out + '.parts',
        workers=args.workers, chunk_size=args.chunk_size, mode=args.mode,
        base_seed=None if args.seed < 0 else args.seed,
        overwrite_stale=args.overwrite_stale,
        progress_interval=args.progress_interval)


if __name__ == '__main__':
    main()
