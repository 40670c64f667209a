# Copyright (c) mmscrl contributors. All rights reserved.
"""Shared CLI plumbing of the ORL stage-2 tools (launcher, device)."""
import os

import torch


def add_launcher_args(parser):
    parser.add_argument('--launcher', choices=['none', 'pytorch'],
                        default='none',
                        help='job launcher (pytorch = torchrun, see the '
                        'dist_*.sh wrappers)')
    parser.add_argument('--device', default=None,
                        help='device (default: cuda:LOCAL_RANK if CUDA is '
                        'available, else cpu)')
    parser.add_argument('--num-workers', type=int, default=4,
                        help='DataLoader workers per process')
    parser.add_argument('--progress-interval', type=float, default=30.,
                        help='seconds between progress lines')


def setup_launcher(args):
    """Initialise torch.distributed for ``--launcher pytorch``; return the
    device of this process."""
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
                        help='text file with one relative image path per '
                        'line (canonical order); default: sorted scan of '
                        '--data-root')
