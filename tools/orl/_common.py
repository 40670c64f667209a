# Copyright (c) mmscrl contributors. All rights reserved.
"""Shared CLI plumbing of the ORL stage-2 tools (parser, launcher, device,
image list, stale chunks)."""
import argparse
import os

from mmscrl.utils import cli


def make_parser(doc: str) -> argparse.ArgumentParser:
    """:func:`mmscrl.utils.cli.make_parser` with the whole docstring ``doc``
    (its usage example included) as the description."""
    return cli.make_parser(doc, full_description=True)


def add_job_args(parser, progress_interval: float = 30.,
                 launcher: bool = False):
    """The options of a resumable chunked stage-2 job; with ``launcher``,
    also those of a model job run by torchrun (:func:`add_launcher_args`)."""
    parser.add_argument('--work-dir', default=None,
                        help='folder of the resumable chunk files '
                        '(default: <out>.parts)')
    parser.add_argument('--overwrite-stale', action='store_true',
                        help='recompute chunks in --work-dir that were made '
                        'with other settings, or whose cache files have no '
                        'checksum (default: refuse and name the settings '
                        'that differ)')
    parser.add_argument('--progress-interval', type=float,
                        default=progress_interval,
                        help='seconds between progress bar updates')
    if launcher:
        add_launcher_args(parser)


def add_launcher_args(parser):
    cli.add_launcher_arg(parser, choices=('none', 'pytorch'),
                         help='job launcher (pytorch = torchrun, see the '
                         'dist_*.sh wrappers)', local_rank=False)
    parser.add_argument('--device', default=None,
                        help='device (default: cuda:LOCAL_RANK if CUDA is '
                        'available, else cpu)')
    parser.add_argument('--num-workers', type=int, default=4,
                        help='DataLoader workers per process')


def setup_launcher(args):
    """Initialise torch.distributed for ``--launcher pytorch``; return the
    device of this process."""
    import torch

    import mmscrl  # noqa: F401  (compat: gloo and no set_device without CUDA)
    if args.launcher == 'pytorch':
        from mmengine.dist import init_dist
        init_dist('pytorch')
    if args.device:
        return torch.device(args.device)
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    return torch.device('cpu')


def add_image_list_args(parser):
    parser.add_argument('--data-root', required=True,
                        help='folder that the image paths are relative to')
    parser.add_argument('--ann-file', default=None,
                        help='COCO json giving the canonical image order '
                        '(images[*].file_name)')
    parser.add_argument('--img-list', default=None,
                        help='UTF-8 text file with one relative image path '
                        'per line (canonical order); default: sorted scan of '
                        '--data-root. Names must be UTF-8 and stay inside '
                        '--data-root')
