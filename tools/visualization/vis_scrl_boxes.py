# Copyright (c) mmscrl contributors. All rights reserved.
"""Draw SCRL's two augmented views with matched boxes in the same colours.

    python tools/visualization/vis_scrl_boxes.py IMAGE --out scrl_boxes.png
        [--config configs/demo/scrl_resnet18_1xb32-coslr-500i_demo.py]
        [--seed 0] [--num-samples 3] [--panel 256]

The view and box sampling is the config's training pipeline
(MultiViewWithGeometry + SCRLBoxPairSampler); the left panel shows the
original image with both crop regions and the boxes mapped back to it.
"""

from mmscrl.utils.cli import make_parser


def main(argv=None):
    p = make_parser(__doc__)
    p.add_argument('image', help='input image')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument(
        '--config',
        default='configs/demo/scrl_resnet18_1xb32-coslr-500i_demo.py',
        help='SCRL config whose training pipeline samples views and boxes')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the first sample')
    p.add_argument('--num-samples', type=int, default=3,
                   help='view pairs (rows) to draw')
    p.add_argument('--panel', type=int, default=256,
                   help='panel side in pixels')
    args = p.parse_args(argv)
    from mmscrl.visualization.scrl_boxes import visualize_scrl_boxes
    out = visualize_scrl_boxes(args.image, args.config, args.out,
                               seed=args.seed, panel=args.panel,
                               num_samples=args.num_samples)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
