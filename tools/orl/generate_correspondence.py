# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage 2c: cross-image RoI pairs from a stage-1 checkpoint.

Example (8 GPUs)::

    bash tools/orl/dist_generate_correspondence.sh configs/orl/<stage1>.py \\
        work_dirs/<stage1>/epoch_800.pth 8 \\
        --data-root data/coco/train2017 \\
        --knn data/coco/meta/train2017_10nn_instance.npz \\
        --proposals data/coco/meta/train2017_selective_search_proposal.json \\
        --out data/coco/meta/train2017_10nn_instance_correspondence.npz

The image order comes from --knn (our npz or the official kNN JSON);
--proposals accepts our npz or the official JSON (several files are
concatenated in order, e.g. COCO+). Boxes are filtered as the official code
(min side 96, aspect <= 3, greedy IoU 0.5, first 100); each image's RoI
embeddings are computed once, cached (float16 by default) and reused.
Resumable: rerun the same command (chunks in --work-dir; chunks made with
other settings, proposals, kNN or checkpoint are refused, or recomputed
with --overwrite-stale). The embedding cache (emb_*.npy) is checksummed
(SHA-256 recorded when written): a damaged file is named and recomputed at
a restart, or refused by name when found in use; a cache written by an
older mmscrl without checksums counts as stale (--overwrite-stale).
Image names must be UTF-8 paths inside --data-root (refused otherwise).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import add_job_args, make_parser, setup_launcher  # noqa: E402


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument('config', help='stage-1 config (BYOL-like model)')
    p.add_argument('checkpoint', help='stage-1 checkpoint')
    p.add_argument('--data-root', required=True,
                   help='folder that the image paths are relative to')
    p.add_argument('--knn', required=True, help='kNN file (.npz or .json)')
    p.add_argument('--proposals', required=True, nargs='+',
                   help='selective-search file(s) (.npz or official .json)')
    p.add_argument('--out', required=True,
                   help='correspondence file: .npz (ours) or .json '
                   '(official format)')
    p.add_argument('--k', type=int, default=None,
                   help='use the first k neighbours (default: all in --knn)')
    p.add_argument('--min-size', type=float, default=96,
                   help='box filter: minimum box side (pixels)')
    p.add_argument('--max-ratio', type=float, default=3,
                   help='box filter: maximum aspect ratio')
    p.add_argument('--max-iou', type=float, default=0.5,
                   help='box filter: greedy IoU suppression threshold')
    p.add_argument('--topn', type=int, default=100,
                   help='box filter: keep the first N surviving boxes')
    p.add_argument('--pair-ratio', type=float, default=0.1,
                   help='pairs per (query image, neighbour): max(1, '
                   'int(ratio * boxes of the query))')
    p.add_argument('--patch-size', type=int, default=224,
                   help='RoI crop size fed to the backbone')
    p.add_argument('--emb-dtype', choices=['float16', 'float32'],
                   default='float16',
                   help='storage dtype of the RoI embedding cache (float32: '
                   'bit-identical to the official recomputation)')
    p.add_argument('--emb-chunk', type=int, default=256,
                   help='images per embedding chunk file')
    p.add_argument('--pair-chunk', type=int, default=4096,
                   help='queries per pair chunk file')
    p.add_argument('--roi-batch-size', type=int, default=None,
                   help='split an image\'s crops into batches of this size '
                   '(default: one batch per image, as the official code)')
    add_job_args(p, launcher=True)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = setup_launcher(args)
    from mmscrl.orl.correspondence import run_correspondence
    from mmscrl.orl.features import build_stage1_model
    from mmscrl.orl.io import load_knn, load_proposals
    knn = load_knn(args.knn)
    props = load_proposals(
        args.proposals[0] if len(args.proposals) == 1 else args.proposals)
    n = len(knn.file_names)
    if len(props.boxes) != n:
        raise ValueError(f'{args.proposals}: {len(props.boxes)} images but '
                         f'{args.knn} has {n}')
    if props.file_names and props.file_names != knn.file_names:
        bad = next(i for i, (a, b) in enumerate(
            zip(props.file_names, knn.file_names)) if a != b)
        raise ValueError(
            f'{args.proposals}: file_names[{bad}] = '
            f'{props.file_names[bad]!r} but {args.knn} has '
            f'{knn.file_names[bad]!r}: the files use different image orders')
    k = args.k or knn.knn.shape[1]
    if k > knn.knn.shape[1]:
        raise ValueError(f'--k {k} exceeds the {knn.knn.shape[1]} neighbours '
                         f'in {args.knn}')
    model = build_stage1_model(args.config, args.checkpoint, device)
    run_correspondence(
        model, args.data_root, knn.file_names, props.boxes, knn.knn[:, :k],
        args.out, args.work_dir or args.out + '.parts',
        filter_cfg=dict(min_size=args.min_size, max_ratio=args.max_ratio,
                        max_iou=args.max_iou, topN=args.topn),
        ratio=args.pair_ratio, patch_size=args.patch_size, device=device,
        num_workers=args.num_workers, emb_chunk=args.emb_chunk,
        pair_chunk=args.pair_chunk, roi_batch_size=args.roi_batch_size,
        emb_dtype=args.emb_dtype, overwrite_stale=args.overwrite_stale,
        progress_interval=args.progress_interval)


if __name__ == '__main__':
    main()
