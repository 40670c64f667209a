# Copyright (c) mmscrl contributors. All rights reserved.
"""Prepare a checkpoint for release (the OpenMMLab convention).

::

    python tools/model_converters/publish_model.py IN_FILE OUT_FILE
        [--keep-meta]

Keeps the ``state_dict`` (and, unless told otherwise, a trimmed ``meta``:
mmengine/mmscrl versions, epoch/iter, the config text, dataset meta),
drops what only resuming needs (``optimizer``, ``param_schedulers``,
``message_hub``, the EMA state of the optimizer...), saves it and renames it
``<OUT_FILE stem>-<first 8 hex digits of its sha256>.pth``, so the file name
certifies the content (``torch.hub.load_state_dict_from_url(...,
check_hash=True)`` verifies that suffix on download). Works for pre-training
checkpoints (to be
read by ``tools/model_converters/extract_backbone.py`` or
``PretrainedBackbone``) and for detectors alike.
"""
import hashlib
import os
import os.path as osp

from mmscrl.utils.cli import make_parser

KEEP_META = ('mmengine_version', 'mmscrl_version', 'mmpretrain_version',
             'mmdet_version', 'epoch', 'iter', 'cfg', 'dataset_meta', 'seed',
             'experiment_name', 'time')


def parse_args(argv=None):
    parser = make_parser('Strip a training checkpoint for release and add '
                         'the sha256 suffix to its name.')
    parser.add_argument('in_file', help='training checkpoint (.pth)')
    parser.add_argument(
        'out_file', help='output name; "-<sha256[:8]>" is added before the '
        'extension (e.g. scrl_r50.pth -> scrl_r50-1a2b3c4d.pth)')
    parser.add_argument(
        '--keep-meta', action='store_true',
        help='keep the whole meta dict instead of the release subset '
        f'({", ".join(KEEP_META)})')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='load the input with weights_only=False (trusted files only: '
        'an untrusted file can run code)')
    return parser.parse_args(argv)


def sha256sum(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def publish(in_file: str,
            out_file: str,
            keep_meta: bool = False,
            weights_only: bool = True) -> str:
    """Write the stripped checkpoint; return its final (suffixed) path.

    The input is read by mmscrl's one checkpoint loader (local file or
    ``http(s)://`` URL, torch's safe unpickler unless ``weights_only`` is
    False), so a malicious file cannot run code.
    """
    import torch

    from mmscrl.utils.checkpoint_layout import (URL_PREFIXES,
                                                load_checkpoint_file)
    if not str(in_file).startswith(URL_PREFIXES) and not osp.isfile(in_file):
        raise FileNotFoundError(f'checkpoint {in_file} not found')
    if not out_file.endswith('.pth'):
        raise ValueError(f'out_file {out_file} must end with .pth')
    from mmscrl.utils.fileio import refuse_overwriting_input
    refuse_overwriting_input(out_file, in_file)
    ckpt = load_checkpoint_file(in_file, weights_only=weights_only)
    if not isinstance(ckpt, dict):
        raise ValueError(f'{in_file}: not a checkpoint dict '
                         f'({type(ckpt).__name__})')
    if 'state_dict' in ckpt:
        state = ckpt['state_dict']
    elif ckpt and all(torch.is_tensor(v) for v in ckpt.values()):
        state = ckpt  # a bare state dict
    else:
        raise KeyError(f'{in_file}: no "state_dict" (keys: '
                       f'{sorted(ckpt)[:10]})')
    if not state:
        raise ValueError(f'{in_file}: empty state_dict')
    out = {'state_dict': state}
    meta = ckpt.get('meta', None) if 'state_dict' in ckpt else None
    if isinstance(meta, dict):
        out['meta'] = dict(meta) if keep_meta else {
            k: meta[k]
            for k in KEEP_META if k in meta
        }
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    tmp = out_file + '.tmp'
    torch.save(out, tmp)
    digest = sha256sum(tmp)[:8]
    final = f'{out_file[:-len(".pth")]}-{digest}.pth'
    try:
        refuse_overwriting_input(final, in_file)
    except ValueError:
        os.remove(tmp)
        raise
    os.replace(tmp, final)
    return final


def main(argv=None):
    args = parse_args(argv)
    final = publish(args.in_file, args.out_file, args.keep_meta,
                    weights_only=not args.unsafe_load)
    size = osp.getsize(final) / 2**20
    print(f'wrote {final} ({size:.1f} MiB)')
    return final


if __name__ == '__main__':
    main()
