# Copyright (c) mmscrl contributors. All rights reserved.
"""Plot training curves of one or more mmengine runs into a PNG.

    python tools/visualization/plot_curves.py RUN [RUN ...] --out curves.png
        [--keys loss lr ...] [--labels a b ...] [--ncols 3] [--smooth 1]

RUN is a work dir, a ``<timestamp>`` folder, a ``vis_data/scalars.json`` or
an mmcv 1.x ``*.log.json``. Without ``--keys`` every logged scalar (losses,
lr, momentum, metrics) gets a panel.
"""
import os.path as osp

from mmscrl.utils.cli import make_parser
from mmscrl.visualization.curves import curve_keys, load_scalars, plot_curves


def main(argv=None):
    p = make_parser('Plot mmengine training curves of one or more runs.')
    p.add_argument('runs', nargs='+',
                   help='work dirs, <timestamp> dirs or scalars.json files')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument('--keys', nargs='+', default=None,
                   help='scalars to draw; default: every numeric key '
                   '(losses first, then lr, momentum, the rest)')
    p.add_argument('--labels', nargs='+', default=None,
                   help='legend name per run; default: folder names')
    p.add_argument('--ncols', type=int, default=3,
                   help='subplots per row')
    p.add_argument('--smooth', type=int, default=1,
                   help='moving-average window for training curves '
                   '(1 = raw)')
    p.add_argument('--dpi', type=int, default=100, help='PNG resolution')
    args = p.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        p.error(f'--labels needs {len(args.runs)} names')
    labels = args.labels or [
        osp.basename(osp.normpath(r)) or r for r in args.runs
    ]
    runs = {}
    for label, run in zip(labels, args.runs):
        runs[label if label not in runs else f'{label}#{len(runs)}'] = \
            load_scalars(run)
    out = plot_curves(runs, args.out, keys=args.keys, ncols=args.ncols,
                      dpi=args.dpi, smooth=args.smooth)
    print(f'wrote {out} ({", ".join(args.keys or curve_keys(runs))})')


if __name__ == '__main__':
    main()
