# Copyright (c) mmscrl contributors. All rights reserved.
"""Find the (online) ResNet backbone in any supported checkpoint layout.

Used by the ``PretrainedBackbone`` weight initializer (detection transfer) and
by ``tools/model_converters/extract_backbone.py``. Pure functions on state
dicts, so the conversion rules are tested without files.

Supported layouts (``detect_layout``):

* ``mmengine``: an mmscrl / mmpretrain training checkpoint,
  ``{'state_dict': {'backbone.*', 'neck.*', 'head.*', 'target_net.*', ...}}``.
  ``backbone.*`` is the online network (SCRL, BYOL, ORL) or the query encoder
  (DenseCL, MoCo); momentum copies (``target_net.*``, ``encoder_k.*``) and
  necks/heads are skipped. A leading DDP ``module.`` is stripped.
* ``openselfsup``: an OpenSelfSup training checkpoint without ``backbone.*``
  keys but with ``encoder_q.0.*`` (DenseCL) or ``online_net.0.*`` (ORL, BYOL),
  or a MoCo-official ``module.encoder_q.*`` torchvision model.
* ``scrl-official``: kakaobrain/scrl ``trainer/base.py`` checkpoints,
  ``{'online_network_state_dict': {'encoder.{0,1,4,5,6,7}.*',
  'projector.net.*'}, 'target_network_state_dict': ..., 'epoch': ...}``. The
  encoder is ``nn.Sequential(*list(resnet.children())[:-2])``, so indices
  0, 1, 4..7 are conv1, bn1, layer1..layer4 (2, 3 are ReLU and max-pool).
* ``pixpro-official``: zdaxie/PixPro checkpoints,
  ``{'model': {'module.encoder.*', 'module.encoder_k.*',
  'module.projector{,_k}.*', 'module.value_transform.*', ...}}`` (the DDP
  state dict; released files keep only ``model``). ``encoder.*`` is a
  torchvision ResNet without ``fc``; the momentum copy ``encoder_k.*``,
  projectors, PPM and instance heads are skipped.
* ``backbone``: a backbone-only file: the DenseCL / ORL released weights
  (``{'state_dict': {'conv1.weight', ...}}``), torchvision ResNets (``fc.*``
  skipped), and the mmdet/torchvision outputs of ``extract_backbone.py``.

Detectron2 files are an export format only (``to_detectron2``).
"""
import os.path as osp
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

__all__ = [
    'BackboneExtraction', 'CheckpointLayoutError', 'load_checkpoint_file',
    'download_checkpoint', 'URL_PREFIXES',
    'detect_layout', 'extract_backbone', 'resnet_state_dict_keys',
    'infer_resnet_depth', 'to_detectron2', 'group_keys', 'LAYOUTS',
    'non_finite_entries', 'check_finite_weights'
]

LAYOUTS = ('mmengine', 'openselfsup', 'scrl-official', 'pixpro-official',
           'backbone')

# block type and blocks per stage of the standard ResNets
RESNET_ARCH = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
    152: ('bottleneck', (3, 8, 36, 3)),
}
# kakaobrain/scrl encoder index -> torchvision / mmcv ResNet name
SCRL_ENCODER_NAMES = {
    '0': 'conv1',
    '1': 'bn1',
    '4': 'layer1',
    '5': 'layer2',
    '6': 'layer3',
    '7': 'layer4'
}
# prefixes of an online / query backbone in a full training checkpoint,
# tried in this order
BACKBONE_PREFIXES = ('backbone.', 'encoder_q.0.', 'online_net.0.',
                     'encoder_q.')
_BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


class CheckpointLayoutError(ValueError):
    """A file that is not a checkpoint of a known layout."""


@dataclass
class BackboneExtraction:
    """The result of :func:`extract_backbone`.

    Attributes:
        layout (str): one of :data:`LAYOUTS`.
        source_prefix (str): the prefix the backbone had in the file
            (``'backbone.'``, ``'online_network_state_dict/encoder.'``, '').
        state_dict (OrderedDict): backbone weights in mmdet/mmpretrain/
            torchvision ResNet names (``conv1.weight``, ``layer4.2.bn3.bias``).
        skipped (list[str]): keys of the file that are not backbone weights
            (necks, heads, momentum encoders, classifier ``fc``).
        missing (list[str]): keys a standard ResNet of the inferred depth has
            but the file lacks (``num_batches_tracked`` is not counted).
        unexpected (list[str]): backbone keys that a standard ResNet lacks.
        depth (int, optional): the inferred ResNet depth, None if the keys are
            not those of a standard ResNet.
    """
    layout: str
    source_prefix: str
    state_dict: 'OrderedDict[str, torch.Tensor]'
    skipped: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    depth: Optional[int] = None

    def report(self, max_groups: int = 12) -> str:
        """A human readable summary: converted, skipped and missing keys."""
        lines = [
            f'layout: {self.layout} (backbone prefix "{self.source_prefix}")',
            f'converted: {len(self.state_dict)} backbone keys'
            + (f' (ResNet-{self.depth})' if self.depth else
               ' (not a standard ResNet)')
        ]
        for title, keys in (('skipped', self.skipped),
                            ('missing', self.missing),
                            ('unexpected', self.unexpected)):
            groups = group_keys(keys)
            text = ', '.join(f'{g} ({n})'
                             for g, n in list(groups.items())[:max_groups])
            if len(groups) > max_groups:
                text += f', ... {len(groups) - max_groups} more groups'
            lines.append(f'{title}: {len(keys)} keys' +
                         (f': {text}' if keys else ''))
        return '\n'.join(lines)


def group_keys(keys: List[str]) -> 'OrderedDict[str, int]':
    """Count keys per group (``target_net.*``, ``layer4.*``, ``fc.*``)."""
    groups = OrderedDict()
    for key in keys:
        parts = key.split('.')
        # group momentum copies / wrappers one level deeper
        depth = 2 if parts[0] in ('target_net', 'encoder_k', 'module',
                                  'online_net', 'encoder_q') else 1
        name = '.'.join(parts[:depth]) + ('.*' if len(parts) > depth else '')
        groups[name] = groups.get(name, 0) + 1
    return groups


URL_PREFIXES = ('http://', 'https://')


def download_checkpoint(url: str,
                        model_dir: Optional[str] = None,
                        file_name: Optional[str] = None,
                        check_hash: bool = False,
                        progress: bool = False) -> str:
    """Download ``url`` once into torch.hub's cache; return the local path.

    The cache is the one mmengine and torch.hub use
    (``$TORCH_HOME/hub/checkpoints`` unless ``model_dir`` is given), and
    torch's ``download_url_to_file`` writes a temporary file that is renamed
    into place only when complete. Nothing is unpickled here: the file is
    read by :func:`load_checkpoint_file` like any local checkpoint.

    Args:
        url (str): ``http://`` or ``https://`` address.
        model_dir (str, optional): Cache folder. Defaults to torch.hub's.
        file_name (str, optional): Cached file name. Defaults to the last
            component of the URL path.
        check_hash (bool): Verify the ``-<sha256 prefix>`` suffix of the file
            name (the convention of ``publish_model.py``). Defaults to False.
        progress (bool): Show a download progress bar. Defaults to False.
    """
    import os
    from urllib.parse import urlparse

    from torch.hub import HASH_REGEX, download_url_to_file, get_dir
    if model_dir is None:
        model_dir = osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    name = file_name or osp.basename(urlparse(url).path)
    if not name or name in ('.', '..'):
        raise ValueError(f'{url}: the URL names no file to cache')
    cached = osp.join(model_dir, name)
    if not osp.exists(cached):
        prefix = None
        if check_hash:
            match = HASH_REGEX.search(name)
            prefix = match.group(1) if match else None
        try:
            download_url_to_file(url, cached, prefix, progress=progress)
        except Exception as e:  # noqa: BLE001  (urllib errors vary)
            raise OSError(f'cannot download checkpoint {url} to {cached}: '
                          f'{type(e).__name__}: {e}') from e
    return cached


def load_checkpoint_file(path: str,
                         weights_only: bool = True,
                         map_location='cpu') -> dict:
    """``torch.load`` a checkpoint, local or ``http(s)://``, with clear
    errors: the one loader every mmscrl load path goes through.

    URLs are downloaded by :func:`download_checkpoint` (cached) and then
    loaded exactly like local files, so a remote file gets the same safe
    unpickler: ``torch.hub.load_state_dict_from_url`` (what mmengine uses
    for URLs) would run arbitrary pickled code, its default being
    ``weights_only=False``. :mod:`mmscrl.compat` routes mmengine's
    ``CheckpointLoader`` (``load_from=``, ``init_cfg`` ``Pretrained``,
    ``torchvision://``, ``open-mmlab://`` ...) here as well.

    Args:
        path (str): the file, or an ``http://`` / ``https://`` URL.
        weights_only (bool): keep torch's safe unpickler (mmengine checkpoint
            globals are allow-listed by :mod:`mmscrl.compat`). Pass False only
            for files you trust. Defaults to True.
        map_location: as :func:`torch.load`. Defaults to ``'cpu'``.
    """
    path = str(path)
    if path.startswith(URL_PREFIXES):
        path = download_checkpoint(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if path.endswith('.pkl'):
        raise CheckpointLayoutError(
            f'{path}: .pkl files (Detectron2 / Caffe2 pickles) are an export '
            'format only; pass the original PyTorch checkpoint')
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointLayoutError(
            f'{path}: the file is empty (0 bytes), e.g. left by an '
            'interrupted save or copy; use another checkpoint')
    try:
        ckpt = torch.load(
            path, map_location=map_location, weights_only=weights_only)
    except Exception as e:  # noqa: BLE001  (unpickling errors vary)
        with open(path, 'rb') as f:
            is_zip_start = f.read(4) == b'PK\x03\x04'
        if is_zip_start and not zipfile.is_zipfile(path):
            hint = (f'; the file ({size} bytes) is a truncated zip archive, '
                    'e.g. left by an interrupted save or copy')
        elif weights_only:
            hint = ('; if the file is trusted, retry without weights_only '
                    '(--unsafe-load in '
                    'tools/model_converters/extract_backbone.py)')
        else:
            hint = ''
        first = (str(e).strip().splitlines() or ['no message'])[0][:300]
        raise CheckpointLayoutError(
            f'{path}: cannot be read as a PyTorch checkpoint '
            f'({type(e).__name__}: {first}){hint}') from e
    if not isinstance(ckpt, dict):
        raise CheckpointLayoutError(
            f'{path}: expected a dict checkpoint, got {type(ckpt).__name__}')
    return ckpt


def _tensor_dict(obj) -> bool:
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor)
        for k, v in obj.items())


def _strip_module(state_dict: dict) -> dict:
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return OrderedDict((k[len('module.'):], v)
                           for k, v in state_dict.items())
    return state_dict


def _describe(ckpt: dict, limit: int = 8) -> str:
    keys = list(ckpt.keys())
    more = f', ... ({len(keys)} keys)' if len(keys) > limit else ''
    return '[' + ', '.join(repr(k) for k in keys[:limit]) + more + ']'


def detect_layout(ckpt: dict) -> Tuple[str, 'OrderedDict', str, List[str]]:
    """Locate the backbone of a loaded checkpoint.

    Args:
        ckpt (dict): what :func:`load_checkpoint_file` returned.

    Returns:
        tuple: ``(layout, backbone_state_dict, source_prefix, skipped)``;
        the backbone keys still carry their layout-specific names (SCRL's
        ``encoder.N`` are renamed here), ``fc.*`` is still present.

    Raises:
        CheckpointLayoutError: if no layout matches.
    """
    if not isinstance(ckpt, dict):
        raise CheckpointLayoutError(
            f'expected a dict checkpoint, got {type(ckpt).__name__}')
    # kakaobrain/scrl: online_network_state_dict + other *_state_dict entries
    if 'online_network_state_dict' in ckpt:
        online = ckpt['online_network_state_dict']
        if not _tensor_dict(online):
            raise CheckpointLayoutError(
                '"online_network_state_dict" is not a tensor state dict')
        online = _strip_module(online)
        skipped = [
            f'{k}/*' for k in ckpt if k != 'online_network_state_dict'
            and k.endswith('_state_dict')
        ]
        out = OrderedDict()
        for key, value in online.items():
            m = re.match(r'encoder\.(\d+)\.(.+)$', key)
            if m and m.group(1) in SCRL_ENCODER_NAMES:
                out[f'{SCRL_ENCODER_NAMES[m.group(1)]}.{m.group(2)}'] = value
            else:
                skipped.append(key)
        if not out:
            raise CheckpointLayoutError(
                'an SCRL checkpoint without encoder.{0,1,4..7}.* keys in '
                f'online_network_state_dict: {_describe(online)}')
        return 'scrl-official', out, 'online_network_state_dict/encoder.', \
            skipped

    state_dict, container = None, ''
    for name in ('state_dict', 'model', 'model_state_dict'):
        if name in ckpt and _tensor_dict(ckpt[name]):
            state_dict, container = ckpt[name], name
            break
    if state_dict is None and _tensor_dict(ckpt):
        state_dict = ckpt
    if state_dict is None:
        raise CheckpointLayoutError(
            'not a checkpoint of a known layout: no tensor state dict at the '
            'top level or under "state_dict"/"model" and no '
            f'"online_network_state_dict"; top-level keys: {_describe(ckpt)}. '
            f'Known layouts: {", ".join(LAYOUTS)}')
    state_dict = _strip_module(state_dict)

    if 'conv1.weight' in state_dict and any(
            k.startswith('layer1.') for k in state_dict):
        skipped = [k for k in state_dict if not _is_resnet_key(k)]
        out = OrderedDict(
            (k, v) for k, v in state_dict.items() if _is_resnet_key(k))
        return 'backbone', out, '', skipped

    # zdaxie/PixPro: encoder.* (online torchvision ResNet) + encoder_k.* ...
    if 'encoder.conv1.weight' in state_dict and any(
            k.startswith('encoder.layer1.') for k in state_dict):
        prefix = 'encoder.'
        out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                          if k.startswith(prefix)
                          and _is_resnet_key(k[len(prefix):]))
        skipped = [
            k for k in state_dict
            if not (k.startswith(prefix) and k[len(prefix):] in out)
        ]
        return 'pixpro-official', out, (f'{container}/' if container else
                                        '') + prefix, skipped

    for prefix in BACKBONE_PREFIXES:
        if any(k.startswith(prefix) for k in state_dict):
            out = OrderedDict((k[len(prefix):], v)
                              for k, v in state_dict.items()
                              if k.startswith(prefix))
            if prefix == 'encoder_q.':  # MoCo official: a torchvision model
                out = OrderedDict(
                    (k, v) for k, v in out.items() if _is_resnet_key(k))
            skipped = [
                k for k in state_dict
                if not (k.startswith(prefix) and k[len(prefix):] in out)
            ]
            layout = 'mmengine' if prefix == 'backbone.' else 'openselfsup'
            if prefix == 'backbone.' and any(
                    k.startswith(('encoder_q.', 'online_net.'))
                    for k in state_dict):
                layout = 'openselfsup'
            return layout, out, (f'{container}/' if container else
                                 '') + prefix, skipped

    raise CheckpointLayoutError(
        'not a checkpoint of a known layout: its state dict has neither '
        f'ResNet keys (conv1.weight, layer1.*) nor a backbone prefix '
        f'({", ".join(BACKBONE_PREFIXES)}); keys: {_describe(state_dict)}. '
        f'Known layouts: {", ".join(LAYOUTS)}')


def _is_resnet_key(key: str) -> bool:
    return re.match(r'(conv1|bn1|layer\d+)\.', key) is not None


def resnet_state_dict_keys(depth: int,
                           num_batches_tracked: bool = True) -> List[str]:
    """The state-dict keys of a standard (torchvision / mmcv) ResNet body.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        num_batches_tracked (bool): include BN ``num_batches_tracked``.

    Returns:
        list[str]: keys of conv1, bn1 and layer1..4, no ``fc``.
    """
    if depth not in RESNET_ARCH:
        raise ValueError(f'unsupported ResNet depth {depth}; '
                         f'choose from {sorted(RESNET_ARCH)}')
    block, blocks = RESNET_ARCH[depth]
    bn = _BN if num_batches_tracked else _BN[:-1]
    n_conv = 2 if block == 'basic' else 3

    keys = ['conv1.weight'] + [f'bn1.{p}' for p in bn]
    for stage, num in enumerate(blocks, 1):
        for i in range(num):
            pre = f'layer{stage}.{i}.'
            for c in range(1, n_conv + 1):
                keys.append(f'{pre}conv{c}.weight')
                keys += [f'{pre}bn{c}.{p}' for p in bn]
            # first block of each stage projects, except ResNet-18/34 layer1
            if i == 0 and (stage > 1 or block == 'bottleneck'):
                keys.append(f'{pre}downsample.0.weight')
                keys += [f'{pre}downsample.1.{p}' for p in bn]
    return keys


def infer_resnet_depth(state_dict: dict) -> Optional[int]:
    """The standard ResNet depth whose block counts match, else None."""
    bottleneck = any(re.match(r'layer\d+\.\d+\.conv3\.', k)
                     for k in state_dict)
    counts = []
    for stage in range(1, 5):
        ids = {
            int(m.group(1))
            for k in state_dict
            for m in [re.match(rf'layer{stage}\.(\d+)\.', k)] if m
        }
        counts.append(max(ids) + 1 if ids else 0)
    for depth, (block, blocks) in RESNET_ARCH.items():
        if tuple(counts) == blocks and (block == 'bottleneck') == bottleneck:
            return depth
    return None


def extract_backbone(ckpt: dict) -> BackboneExtraction:
    """Backbone weights (ResNet names) of a loaded checkpoint of any layout.

    Args:
        ckpt (dict): a loaded checkpoint (see :func:`detect_layout`).

    Returns:
        BackboneExtraction: weights plus the converted / skipped / missing
        report. ``fc.*`` (torchvision classifiers) is skipped.
    """
    layout, raw, prefix, skipped = detect_layout(ckpt)
    state_dict = OrderedDict()
    for key, value in raw.items():
        if key.startswith('fc.'):
            skipped.append(prefix.split('/')[-1] + key)
        else:
            state_dict[key] = value.detach().clone().contiguous()
    if not state_dict:
        raise CheckpointLayoutError(
            f'{layout} checkpoint: no backbone weights under "{prefix}"')
    depth = infer_resnet_depth(state_dict)
    missing, unexpected = [], []
    if depth is not None:
        expected = resnet_state_dict_keys(depth, num_batches_tracked=True)
        missing = [
            k for k in expected
            if k not in state_dict and not k.endswith('num_batches_tracked')
        ]
        expected = set(expected)
        unexpected = [k for k in state_dict if k not in expected]
    return BackboneExtraction(
        layout=layout,
        source_prefix=prefix,
        state_dict=state_dict,
        skipped=skipped,
        missing=missing,
        unexpected=unexpected,
        depth=depth)


def to_detectron2(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """Rename ResNet keys to Detectron2's (``stem.*``, ``res2..res5``).

    The same renaming as Detectron2's ``tools/convert-torchvision-to-
    detectron2.py`` and DenseCL's ``convert-pretrain-to-detectron2.py``:
    ``conv1`` -> ``stem.conv1``, ``bn1`` -> ``stem.conv1.norm``,
    ``layerN`` -> ``res{N+1}``, ``bnK`` -> ``convK.norm``, ``downsample.0``
    -> ``shortcut``, ``downsample.1`` -> ``shortcut.norm``.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new = key
        if not new.startswith('layer'):
            new = 'stem.' + new
        new = re.sub(r'^layer(\d)', lambda m: f'res{int(m.group(1)) + 1}',
                     new)
        new = re.sub(r'(^|\.)bn(\d)\.', r'\1conv\2.norm.', new)
        new = new.replace('downsample.0.', 'shortcut.')
        new = new.replace('downsample.1.', 'shortcut.norm.')
        out[new] = value
    return out


def non_finite_entries(tensors: Dict[str, torch.Tensor]) -> List[str]:
    """Names of the floating-point tensors holding a NaN or an Inf.

    All flags are reduced on their device first, so a clean state costs one
    host synchronisation per device.

    Args:
        tensors (dict[str, Tensor]): E.g. a ``state_dict``; entries that are
            not floating-point tensors are not checked.

    Returns:
        list[str]: Offending names, in the order of ``tensors``.
    """
    by_device: Dict[torch.device, list] = OrderedDict()
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() \
                and t.numel() > 0:
            by_device.setdefault(t.device, []).append((name, t))
    bad = []
    for items in by_device.values():
        flags = torch.stack([torch.isfinite(t).all() for _, t in items])
        if bool(flags.all()):
            continue
        bad += [name for (name, _), ok in zip(items, flags.tolist()) if not ok]
    order = {name: i for i, name in enumerate(tensors)}
    return sorted(bad, key=order.__getitem__)


def check_finite_weights(state_dict: Dict[str, torch.Tensor],
                         source: str,
                         what: str = 'backbone',
                         advice: str = 'Use an earlier checkpoint.') -> None:
    """Refuse weights holding NaN/Inf (a diverged run): the one rule of
    ``PretrainedBackbone`` and ``tools/model_converters/extract_backbone.py``.

    Args:
        state_dict (dict[str, Tensor]): The weights to check.
        source (str): The checkpoint they come from (named in the error).
        what (str): What the weights are, for the error. Defaults to
            ``'backbone'``.
        advice (str): What to do, appended to the error. Defaults to
            ``'Use an earlier checkpoint.'``.

    Raises:
        CheckpointLayoutError: naming ``source``, the number of non-finite
            tensors and the first eight of them.
    """
    bad = non_finite_entries(state_dict)
    if bad:
        raise CheckpointLayoutError(
            f'{source}: {len(bad)} {what} tensor(s) hold NaN/Inf ('
            f'{", ".join(bad[:8])}{" ..." if len(bad) > 8 else ""}): the '
            f'run that wrote it diverged. {advice}')
