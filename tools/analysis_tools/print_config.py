# Copyright (c) mmscrl contributors. All rights reserved.
"""Print a config fully resolved (``_base_`` merged, ``--cfg-options``
applied), as MMEngine sees it.

    python tools/analysis_tools/print_config.py CONFIG
        [--cfg-options k=v ...] [--out resolved.py]

Works on every mmscrl config (``mmscrl::`` bases included) and on the
mmdet/mmseg transfer configs.
"""
import sys

from mmengine.config import Config

from mmscrl.utils.cli import add_cfg_options, add_config_arg, make_parser


def parse_args(argv=None):
    parser = make_parser('Print the fully resolved config.')
    add_config_arg(parser)
    add_cfg_options(parser)
    parser.add_argument(
        '--out', default=None,
        help='also write the resolved config to this .py/.json/.yaml file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import mmscrl  # noqa: F401  (registers mmscrl:: and the modules)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    sys.stdout.write(f'Config:\n{cfg.pretty_text}\n')
    if args.out:
        cfg.dump(args.out)
        print(f'wrote {args.out}')
    return cfg


if __name__ == '__main__':
    main()
