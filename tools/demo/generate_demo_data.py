# Copyright (c) mmscrl contributors. All rights reserved.
"""Generate the synthetic demo data set (no download needed).

    python tools/demo/generate_demo_data.py [--out-dir data/demo]
        [--num-unlabeled 1000] [--num-train 400] [--num-val 100]
        [--img-size 128] [--seed 0] [--max-objects 5] [--data-version 3]
        [--force] [--colour-probe]

Writes ``unlabeled/``, ``train/``, ``val/`` JPEGs and COCO instance
annotations ``annotations/instances_{train,val,unlabeled}.json`` (see
:mod:`mmscrl.demo.generator`). Deterministic for given arguments; skips the
work when ``out-dir`` already holds the same data set (unless ``--force``).
An existing data set is replaced only if it holds nothing but the files the
generator recorded in it, unchanged; one generator at a time works on a
folder (a second one waits, naming the first one's pid, for at most
``--lock-timeout`` seconds).

The default, ``--data-version 3``, writes colour-free classes (told by shape
only, colours drawn independently of the class); ``--data-version 2`` the
earlier data whose classes each have their own hue range (see
:mod:`mmscrl.demo.generator`). ``--colour-probe`` then
prints the accuracy of a colour-only nearest-centroid classifier, fitted on
the train split and scored on val (:mod:`mmscrl.demo.colour_probe`): near
1.0 on version 2, near chance on version 3.
"""
import time

from mmscrl.demo import ensure_demo_dataset, generate_demo_dataset
from mmscrl.demo.generator import GENERATOR_VERSION, GENERATOR_VERSIONS
from mmscrl.utils.cli import make_parser


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument('--out-dir', default='data/demo',
                   help='folder the data set is written to')
    p.add_argument('--num-unlabeled', type=int, default=1000,
                   help='unlabelled images (pre-training split)')
    p.add_argument('--num-train', type=int, default=400,
                   help='labelled training images (detection train split)')
    p.add_argument('--num-val', type=int, default=100,
                   help='labelled validation images (detection val split)')
    p.add_argument('--img-size', type=int, default=128,
                   help='image side in pixels (square images, >= 32)')
    p.add_argument('--seed', type=int, default=0,
                   help='base seed (the data set is deterministic given '
                   'the arguments)')
    p.add_argument('--max-objects', type=int, default=5,
                   help='maximum objects per image (>= 1)')
    p.add_argument('--data-version', type=int, default=GENERATOR_VERSION,
                   choices=sorted(GENERATOR_VERSIONS),
                   help='generator version: ' + '; '.join(
                       f'{k}: {v}' for k, v in GENERATOR_VERSIONS.items()))
    p.add_argument('--force', action='store_true',
                   help='regenerate even if an identical data set exists')
    p.add_argument('--colour-probe', action='store_true',
                   help='then print the val accuracy of a colour-only '
                   'nearest-centroid classifier fitted on train')
    p.add_argument('--lock-timeout', type=float, default=None,
                   help='seconds to wait while another generator works on '
                   'the folder (default: until it ends; 0: refuse at once)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    kwargs = dict(
        num_unlabeled=args.num_unlabeled,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        seed=args.seed,
        max_objects=args.max_objects,
        version=args.data_version)
    t0 = time.time()
    if args.force:
        paths = generate_demo_dataset(args.out_dir, verbose=True,
                                      lock_timeout=args.lock_timeout,
                                      **kwargs)
    else:
        paths = ensure_demo_dataset(args.out_dir, verbose=True,
                                    lock_timeout=args.lock_timeout, **kwargs)
    print(f'[demo data] ready in {paths["root"]} '
          f'({time.time() - t0:.1f}s)')
    if args.colour_probe:
        from mmscrl.demo.colour_probe import demo_colour_probe
        res = demo_colour_probe(paths['root'])
        print(f'[demo data] colour-only nearest-centroid accuracy on val: '
              f'{res["accuracy"]:.3f} (chance {res["chance"]:.3f}, '
              f'majority class {res["majority"]:.3f}; '
              f'{res["num_train"]} train / {res["num_val"]} val objects, '
              f'data version {args.data_version})')
        return dict(paths=paths, colour_probe=res)
    return dict(paths=paths)


if __name__ == '__main__':
    main()
