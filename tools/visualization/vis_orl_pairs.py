# Copyright (c) mmscrl contributors. All rights reserved.
"""Draw an ORL query's kNN images and its intra-/inter-RoI pairs.

    python tools/visualization/vis_orl_pairs.py CORRESPONDENCE DATA_ROOT
        --out orl_pairs.png [--index 0] [--knn KNN_FILE] [--panel 160]
        [--num-intra 4] [--num-inter 2] [--seed 0]

CORRESPONDENCE is the ORL stage-2 output (``.npz`` or official ``.json``,
tools/orl/generate_correspondence.py); DATA_ROOT is the folder its file
names are relative to; KNN_FILE (tools/orl/extract_knn.py) adds the cosine
scores to the titles.
"""

from mmscrl.utils.cli import make_parser


def main(argv=None):
    p = make_parser(__doc__)
    p.add_argument('correspondence',
                   help='ORL stage-2 correspondence file (.npz or the '
                   'official .json)')
    p.add_argument('data_root', help='folder the file names are relative '
                   'to (e.g. data/coco/train2017)')
    p.add_argument('--out', required=True, help='output PNG')
    p.add_argument('--index', type=int, default=0,
                   help='query image (row of the file)')
    p.add_argument('--knn', default=None,
                   help='stage-2a kNN file; adds the similarity scores')
    p.add_argument('--panel', type=int, default=160,
                   help='panel side in pixels')
    p.add_argument('--num-intra', type=int, default=4,
                   help='intra-image box pairs to draw')
    p.add_argument('--num-inter', type=int, default=2,
                   help='kNN images (inter-image RoI pairs) to draw')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the pair sampling')
    args = p.parse_args(argv)
    from mmscrl.visualization.orl_pairs import visualize_orl_pairs
    res = visualize_orl_pairs(args.correspondence, args.data_root, args.out,
                              index=args.index, knn_file=args.knn,
                              panel=args.panel, num_intra=args.num_intra,
                              num_inter=args.num_inter, seed=args.seed)
    print(f'wrote {res["out_file"]} ({res["shape"][1]}x{res["shape"][0]})')


if __name__ == '__main__':
    main()
