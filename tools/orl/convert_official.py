# Copyright (c) mmscrl contributors. All rights reserved.
"""Convert an official ORL JSON (proposals, kNN or correspondence) to our
compact .npz, or back (the format follows each file's extension).

Example::

    python tools/orl/convert_official.py proposals \\
        train2017_selective_search_proposal.json \\
        train2017_selective_search_proposal.npz \\
        --ann-file data/coco/annotations/instances_train2017.json
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import make_parser  # noqa: E402


def main(argv=None):
    p = make_parser(__doc__)
    p.add_argument('kind', choices=['proposals', 'knn', 'correspondence'],
                   help='which stage-2 file src is')
    p.add_argument('src', help='input (.json official or .npz ours)')
    p.add_argument('dst', help='output (.json official or .npz ours)')
    p.add_argument('--ann-file', default=None,
                   help='proposals only: COCO json whose images[*].file_name '
                   'order names the images (default: keep the names src '
                   'holds; the official SS json has none)')
    args = p.parse_args(argv)
    from mmscrl.orl import io
    if args.kind == 'proposals':
        obj = io.load_proposals(args.src)
        if args.ann_file:
            from mmscrl.orl.utils import read_image_list
            names = read_image_list('', ann_file=args.ann_file)
            if len(names) != len(obj.boxes):
                raise ValueError(f'{args.ann_file}: {len(names)} images but '
                                 f'{args.src} has {len(obj.boxes)}')
            obj.file_names = names
        io.save_proposals(obj, args.dst)
    elif args.kind == 'knn':
        io.save_knn(io.load_knn(args.src), args.dst)
    else:
        io.save_correspondence(io.load_correspondence(args.src), args.dst)
    print(f'{args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
