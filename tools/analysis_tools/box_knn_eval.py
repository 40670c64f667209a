# Copyright (c) mmscrl contributors. All rights reserved.
"""Box-level and image-level kNN accuracy of pre-training checkpoints.

::

    python tools/analysis_tools/box_knn_eval.py CKPT [CKPT ...] \
        [--names NAME ...] [--data-root data/demo | --ann-file A --img-dir D
        [--val-ann-file VA --val-img-dir VD]] [--loo] [--k 20]
        [--temperature 0.07] [--img-size 128] [--max-images 200]
        [--depth N] [--feature-level c5] [--probe] [--out results.json]

The measurement of ``BoxKNNHook`` (``mmscrl/evaluation/box_knn.py``) for
finished checkpoints: the backbone (any layout that
``mmscrl.utils.checkpoint_layout`` reads; ``random`` for a randomly
initialised ResNet of ``--depth``) is RoIAligned inside the ground-truth
boxes of a labelled detection set, and boxes / images (dominant class) are
classified by weighted cosine kNN. With ``--data-root`` (a demo data set of
``tools/demo/generate_demo_data.py``) the train split votes for the val split;
``--loo`` uses leave-one-out on the train split instead (the same image's
boxes excluded). Prints a markdown table; ``--out`` also writes JSON.

Monitor variants (``mmscrl/evaluation/checkpoint_eval.py``):
``--feature-level c4`` RoIAligns C4 (stride 16) instead of C5, ``--img-size
256`` upsamples the 128 px demo images, and ``--probe`` adds the box linear
probe (logistic regression fitted on the voting set's box features, scored
on the val set; ``mmscrl/evaluation/box_probe.py``).
"""
import json
import os
import os.path as osp
import sys
import time

from mmscrl.utils.cli import make_parser


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument('checkpoints', nargs='+',
                   help='checkpoint files (any layout) or "random"')
    p.add_argument('--names', nargs='+',
                   help='row names, one per checkpoint (if omitted: the '
                   'checkpoint paths)')
    p.add_argument('--data-root',
                   help='a demo data set folder: its train split votes, its '
                   'val split is evaluated (exclusive with --ann-file/'
                   '--img-dir)')
    p.add_argument('--ann-file',
                   help='COCO json of the voting set (needed unless '
                   '--data-root is given)')
    p.add_argument('--img-dir',
                   help='images of --ann-file (needed unless --data-root is '
                   'given)')
    p.add_argument('--val-ann-file',
                   help='COCO json of the evaluated set (if omitted: '
                   'leave-one-out on the voting set)')
    p.add_argument('--val-img-dir',
                   help='images of --val-ann-file (give both or neither)')
    p.add_argument('--loo', action='store_true',
                   help='leave-one-out on the voting set (no val set)')
    p.add_argument('--k', type=int, nargs='+', default=[20],
                   help='neighbours of the kNN vote (several values: one '
                   'accuracy each; the table shows the first)')
    p.add_argument('--temperature', type=float, default=0.07,
                   help='temperature of the weighted cosine kNN vote')
    p.add_argument('--img-size', type=int, default=128,
                   help='images are resized to this square side (px)')
    p.add_argument('--max-images', type=int, default=200,
                   help='first images of each set used')
    p.add_argument('--roi-size', type=int, default=2,
                   help='RoIAlign output side (its bins are averaged)')
    p.add_argument('--feature-level', default='c5',
                   choices=['c2', 'c3', 'c4', 'c5'],
                   help='ResNet level RoIAligned (c5: the last map, stride '
                   '32; c4: stride 16)')
    p.add_argument('--probe', action='store_true',
                   help='also fit a linear probe on the voting set\'s box '
                   'features and report its top-1 on the val set (not '
                   'with --loo)')
    p.add_argument('--depth', type=int,
                   help='ResNet depth (if omitted: inferred from each '
                   'checkpoint; required with "random")')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the "random" backbone')
    p.add_argument('--out',
                   help='JSON output file (if omitted: only the markdown '
                   'table is printed)')
    args = p.parse_args(argv)
    if args.names and len(args.names) != len(args.checkpoints):
        p.error(f'{len(args.names)} --names for {len(args.checkpoints)} '
                'checkpoints')
    if args.data_root:
        if args.ann_file or args.img_dir:
            p.error('give --data-root or --ann-file/--img-dir, not both')
        from mmscrl.demo.generator import demo_paths
        paths = demo_paths(args.data_root)
        args.ann_file, args.img_dir = paths['ann_train'], paths['train']
        if not args.loo:
            args.val_ann_file, args.val_img_dir = (paths['ann_val'],
                                                   paths['val'])
    if not (args.ann_file and args.img_dir):
        p.error('give --data-root, or --ann-file and --img-dir')
    if args.loo:
        args.val_ann_file = args.val_img_dir = None
    if bool(args.val_ann_file) != bool(args.val_img_dir):
        p.error('give both --val-ann-file and --val-img-dir, or neither')
    if args.probe and not args.val_ann_file:
        p.error('--probe needs a val set (--data-root without --loo, or '
                '--val-ann-file/--val-img-dir): the probe is fitted on the '
                'voting set and scored on the val set')
    return args


def format_table(rows, k):
    probe = any('box_probe_top1' in r for r in rows)
    lines = [f'| checkpoint | box kNN top-1 (k={k}) | image kNN top-1 '
             f'(k={k}) | ' + ('box probe top-1 | ' if probe else '')
             + 'seconds |', '|---|---:|---:|' + ('---:|' if probe else '')
             + '---:|']
    for r in rows:
        lines.append(f'| {r["name"]} | {r[f"box_k{k}_top1"]:.1f} | '
                     f'{r[f"image_k{k}_top1"]:.1f} | '
                     + (f'{r["box_probe_top1"]:.1f} | ' if probe else '')
                     + f'{r["seconds"]:.1f} |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    import mmscrl  # noqa: F401  (compat fixes: safe checkpoint loading)
    from mmscrl.evaluation.checkpoint_eval import (build_backbone,
                                                   evaluate_backbone,
                                                   load_detection_set)
    train = load_detection_set(args.ann_file, args.img_dir, args.img_size,
                               args.max_images)
    val = None
    if args.val_ann_file:
        val = load_detection_set(args.val_ann_file, args.val_img_dir,
                                 args.img_size, args.max_images)
    protocol = 'leave-one-out' if val is None else 'train -> val'
    print(f'[box-knn] {protocol}, {args.feature_level.upper()} at '
          f'{args.img_size} px: {len(train["boxes"])} voting images'
          + (f', {len(val["boxes"])} evaluated images' if val else ''),
          flush=True)
    rows = []
    names = args.names or args.checkpoints
    for name, ckpt in zip(names, args.checkpoints):
        start = time.perf_counter()
        backbone = build_backbone(ckpt, args.depth, args.seed)
        metrics = evaluate_backbone(
            backbone, train, val, ks=args.k, temperature=args.temperature,
            roi_size=args.roi_size, feature_level=args.feature_level,
            probe=args.probe)
        rows.append(dict(name=name, checkpoint=ckpt,
                         seconds=time.perf_counter() - start, **metrics))
        print(f'[box-knn] {name}: ' + ', '.join(
            f'{key} {val_:.2f}' for key, val_ in metrics.items()),
            flush=True)
    table = format_table(rows, args.k[0])
    print('\n' + table)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(protocol=protocol, k=args.k,
                           temperature=args.temperature,
                           img_size=args.img_size,
                           feature_level=args.feature_level,
                           probe=args.probe, rows=rows), f, indent=1)
    return rows


if __name__ == '__main__':
    main()
    sys.exit(0)
