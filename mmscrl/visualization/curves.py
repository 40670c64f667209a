# Copyright (c) mmscrl contributors. All rights reserved.
"""Training curves (losses, lr, momentum, metrics) from mmengine logs.

Reads mmengine's ``<work_dir>/<timestamp>/vis_data/scalars.json`` (one JSON
record per line, written by ``LocalVisBackend``) or an OpenSelfSup/mmcv 1.x
``*.log.json`` (records with ``mode``/``iter``), and draws one panel per
scalar with one line per run.
"""
import glob
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

#: keys that are bookkeeping, not curves
IGNORED_KEYS = ('iter', 'step', 'epoch', 'time', 'data_time', 'memory',
                'mode', 'eta')
#: records with a key of these prefixes and no ``iter`` are drawn at their
#: ``step``, the training iteration (``BoxKNNHook``'s ``knn/*``)
STEP_IS_ITER_PREFIXES = ('knn/', )


def find_scalar_file(path: str) -> str:
    """Resolve a run path to its log file.

    ``path`` may be a ``scalars.json``/``*.log.json`` file, a timestamp
    folder (``<ts>/vis_data/scalars.json``) or a work dir (the newest
    ``<ts>/vis_data/scalars.json``, else the newest ``*.log.json``).
    """
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'no such log file or run folder: {path}')
    for pattern in ('vis_data/scalars.json', '*/vis_data/scalars.json',
                    '*.log.json', '*/*.log.json'):
        found = sorted(glob.glob(osp.join(path, pattern)))
        if found:
            return found[-1]
    raise FileNotFoundError(
        f'{path}: no vis_data/scalars.json or *.log.json inside')


def load_scalars(path: str) -> List[Dict]:
    """Records of one run, each with an ``x`` (iteration or step) added.

    Train records of mmengine carry ``iter``; validation records only
    ``step`` (the epoch by default, so 0 in iteration-based runs) and are
    placed at the last training iteration logged before them. mmcv 1.x
    ``.log.json`` records carry ``mode`` and ``iter``/``epoch``.
    """
    file = find_scalar_file(path)
    records = []
    last_train_x = 0
    with open(file) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{file}:{lineno}: not JSON ({e})') from e
            if not isinstance(rec, dict):
                continue
            if 'env_info' in rec or 'config' in rec:  # mmcv header line
                continue
            x = rec.get('iter', rec.get('step', rec.get('epoch')))
            if x is None:
                continue
            rec = dict(rec)
            rec['is_val'] = ('iter' not in rec) or rec.get('mode') == 'val'
            # mmengine logs validation at step=epoch (0 in iteration-based
            # runs): draw it at the last training iteration before it
            rec['x'] = last_train_x if rec['is_val'] else x
            if 'iter' not in rec and 'step' in rec and any(
                    str(k).startswith(STEP_IS_ITER_PREFIXES) for k in rec):
                rec['x'] = rec['step']
            if not rec['is_val']:
                last_train_x = x
            records.append(rec)
    if not records:
        raise ValueError(f'{file}: no scalar records')
    return records


def curve_keys(runs: Dict[str, List[Dict]]) -> List[str]:
    """Numeric keys over all runs: losses first, then lr, momentum, rest."""
    keys = []
    for recs in runs.values():
        for rec in recs:
            for k, v in rec.items():
                if k in ('x', 'is_val') or k in IGNORED_KEYS:
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool) \
                        and k not in keys:
                    keys.append(k)

    def rank(k):
        if k == 'loss':
            return (0, k)
        if 'loss' in k:
            return (1, k)
        if k in ('lr', 'base_lr') or k.endswith('lr'):
            return (2, k)
        if 'momentum' in k:
            return (3, k)
        return (4, k)

    return sorted(keys, key=rank)


def plot_curves(runs: Dict[str, List[Dict]],
                out_file: str,
                keys: Optional[Sequence[str]] = None,
                ncols: int = 3,
                panel_size: Sequence[float] = (4., 3.),
                dpi: int = 100,
                smooth: int = 1) -> str:
    """Draw the curves of one or more runs into a PNG.

    Args:
        runs (dict[str, list[dict]]): Run label -> records of
            :func:`load_scalars`.
        out_file (str): PNG path (written atomically).
        keys (Sequence[str], optional): Scalars to draw; default all
            numeric keys (:func:`curve_keys`).
        ncols (int): Panels per row. Defaults to 3.
        panel_size (tuple[float, float]): Inches per panel. Defaults to
            (4, 3); the image is ``ncols * w * dpi`` x ``nrows * h * dpi``
            pixels.
        dpi (int): Defaults to 100.
        smooth (int): Moving-average window for train curves. Defaults to 1.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError('plot_curves: no runs given')
    keys = list(keys) if keys else curve_keys(runs)
    if not keys:
        raise ValueError('plot_curves: the runs have no numeric scalars')
    missing = [k for k in keys
               if not any(k in r for recs in runs.values() for r in recs)]
    if missing:
        raise KeyError(f'plot_curves: no run logs {missing}; available: '
                       f'{curve_keys(runs)}')
    ncols = max(1, min(ncols, len(keys)))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, squeeze=False,
        figsize=(ncols * panel_size[0], nrows * panel_size[1]), dpi=dpi)
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, key in zip(axes.flat, keys):
        for r, (label, recs) in enumerate(runs.items()):
            color = colors[r % len(colors)]  # one colour per run
            pts = [(r['x'], r[key], r['is_val']) for r in recs if key in r]
            if not pts:
                continue
            x = np.array([p[0] for p in pts], dtype=float)
            y = np.array([p[1] for p in pts], dtype=float)
            val = np.array([p[2] for p in pts])
            if (~val).any():
                xs, ys = x[~val], y[~val]
                if smooth > 1 and len(ys) >= smooth:
                    ys = np.convolve(ys, np.ones(smooth) / smooth, 'valid')
                    xs = xs[smooth - 1:]
                ax.plot(xs, ys, '.-' if len(xs) <= 3 else '-', label=label,
                        lw=1.2, color=color)
            if val.any():
                ax.plot(x[val], y[val], 'o--', label=f'{label} (val)', ms=4,
                        color=color)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis('off')
    fig.tight_layout()
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    tmp = osp.join(out_dir, f'.tmp{os.getpid()}_' + osp.basename(out_file))
    fig.savefig(tmp, dpi=dpi, format='png')
    plt.close(fig)
    os.replace(tmp, out_file)
    return out_file
