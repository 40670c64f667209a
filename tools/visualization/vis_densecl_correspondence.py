# Copyright (c) mmscrl contributors. All rights reserved.
"""Draw DenseCL's dense correspondences between two views from a checkpoint.

    python tools/visualization/vis_densecl_correspondence.py IMAGE CONFIG
        [CHECKPOINT] --out densecl_matches.png [--size 128] [--seed 0]
        [--num-samples 3] [--panel 256]

Lines join each view-1 C5 cell to the view-2 cell its backbone feature
matches best (DenseCL's argmax rule); green = correct (within one cell of the
true position, known from the recorded view geometry), red = wrong, grey =
no true partner. Without CHECKPOINT the model is randomly initialised.
"""

from mmscrl.utils.cli import add_config_arg, make_parser


def main(argv=None):
    p = make_parser(__doc__)
    p.add_argument('image', help='input image')
    add_config_arg(p, 'DenseCL config (DenseCLOfficial model)')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='trained checkpoint (path or URL); without it the '
                   'model is randomly initialised')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument('--size', type=int, default=128,
                   help='view side in pixels (C5 grid = size / 32)')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the first view pair')
    p.add_argument('--num-samples', type=int, default=3,
                   help='view pairs (rows) to draw')
    p.add_argument('--panel', type=int, default=256,
                   help='panel side in pixels')
    args = p.parse_args(argv)
    from mmscrl.visualization.densecl_correspondence import \
        visualize_densecl_correspondence
    res = visualize_densecl_correspondence(
        args.image, args.config, args.checkpoint, args.out, size=args.size,
        seed=args.seed, panel=args.panel, num_samples=args.num_samples)
    accs = ', '.join(f'{100 * a:.0f}%' for a in res['accuracy'])
    print(f'wrote {res["out_file"]} (correct matches: {accs})')


if __name__ == '__main__':
    main()
