# Copyright (c) mmscrl contributors. All rights reserved.
"""Building blocks of the demo jobs (``run_demo.py``, ``run_all_demos.py``).

Pre-train a self-supervised model on the unlabeled demo images, then train
the same detector twice on the labeled split -- once with the pre-trained
backbone, once from random initialisation, identical otherwise -- and
compare mmdet's COCO bbox AP.

Every training stage runs ``tools/train.py`` in a subprocess on a config
that this module derives from a repository config and dumps into the
stage's work dir (``config.py``), so each stage is an ordinary, reproducible
mmengine run. A stage writes ``demo_stage.json`` when it finishes; a rerun
with the same settings skips finished stages. A stage interrupted mid-way
(Ctrl-C, a kill, a crash) resumes from its last checkpoint: every stage
saves :data:`SAVES_PER_STAGE` times (atomically, see :mod:`mmscrl.compat`)
and a rerun passes ``--resume`` when the stage's ``last_checkpoint`` exists.

The detector's backbone is initialised by ``mmscrl.PretrainedBackbone``,
set by ``mmscrl.models.utils.pretrained_backbone.set_pretrained``: the
same initializer and the same function as the detection benchmarks.

The demo only deletes what it wrote (:mod:`mmscrl.demo.ownership`, the
rule the demo data generator follows too): every stage folder records the
files the demo and its training run wrote there, with their size and
SHA-256; a stage reset (other settings) and ``--force`` delete those files
only, and refuse, naming them and deleting nothing, when anything else is
there (a file of the user's, a recorded file changed since, a copy of a
stage). A non-empty folder that is not a demo stage is never used.
"""
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmscrl.demo.ownership import (LOCK_FILE, TRAINING_RUN_OUTPUTS,
                                   OwnedFolder)
from mmscrl.models.utils.pretrained_backbone import (RANDOM_INIT,
                                                     set_pretrained)
from mmscrl.utils.fileio import atomic_write_text

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE_FILE = 'demo_stage.json'
PENDING_FILE = 'demo_pending.json'
RESULT_FILES = ('results.md', 'results.json')
#: checkpoints per training stage (the last one at the stage's end), so an
#: interrupted stage loses at most 1/SAVES_PER_STAGE of its iterations
SAVES_PER_STAGE = 5


class Banner:
    """Prints stage banners with the elapsed wall time of the whole job."""

    def __init__(self, total: int):
        self.t0 = time.time()
        self.total = total
        self.k = 0

    def elapsed(self) -> float:
        return time.time() - self.t0

    def __call__(self, title: str) -> None:
        self.k += 1
        m, s = divmod(int(self.elapsed()), 60)
        line = (f'[demo {self.k}/{self.total} | {m:02d}:{s:02d} elapsed] '
                f'{title}')
        print('\n' + '=' * len(line) + '\n' + line + '\n' + '=' * len(line),
              flush=True)

    def info(self, msg: str) -> None:
        m, s = divmod(int(self.elapsed()), 60)
        print(f'[demo | {m:02d}:{s:02d}] {msg}', flush=True)


def _is_stage_dir(path: str) -> bool:
    return osp.isdir(path) and (osp.isfile(osp.join(path, PENDING_FILE))
                                or osp.isfile(osp.join(path, STAGE_FILE)))


def work_dir_folder(work_dir: str) -> OwnedFolder:
    """The demo job's work dir: results files and stage folders."""
    return OwnedFolder(work_dir, 'demo work dir')


def stage_folder(work_dir: str) -> OwnedFolder:
    """One stage's folder (a training run's work dir)."""
    return OwnedFolder(work_dir, 'demo stage')


def remove_demo_work_dir(work_dir: str, locked: bool = False) -> None:
    """Delete what the demo wrote in its work dir (``--force``).

    Removes the recorded results files and, in each stage folder (and the
    ORL stage-2 folder), the files the stage recorded; ``work_dir`` itself
    stays. Nothing is deleted if anything else is there.

    Args:
        work_dir (str): The demo job's ``--work-dir``.
        locked (bool): The caller holds ``work_dir``'s lock (the demo job
            does). Defaults to False.

    Raises:
        ForeignFilesError: ``work_dir`` or a stage folder holds entries the
            demo did not write or that changed since (they are named);
            nothing is deleted then. A ``FileExistsError``.
        DemoBusyError: Another process works in ``work_dir``.
    """
    if not osp.isdir(work_dir):
        return
    folder = work_dir_folder(work_dir)
    folder.check(
        'delete anything (--force)',
        'Move them out of it (a stage written by an older mmscrl, which '
        'did not record its files, you delete yourself), or choose another '
        '--work-dir.')
    folder.remove(remove_root=False, locked=locked)


def set_checkpoint_interval(cfg: Config,
                            saves: int = SAVES_PER_STAGE) -> Config:
    """Save ``saves`` times per run (keeping only the newest checkpoint).

    Args:
        cfg (Config): Iteration-based config with a ``CheckpointHook``.
        saves (int): Checkpoints per run; the last lands on the last
            iteration. Defaults to :data:`SAVES_PER_STAGE`.

    Returns:
        Config: ``cfg``, modified in place.
    """
    max_iters = int(cfg.train_cfg.max_iters)
    ckpt = cfg.default_hooks.get('checkpoint', None)
    if ckpt is None:
        raise KeyError(f'{cfg.filename}: default_hooks.checkpoint is needed '
                       'to resume an interrupted demo stage')
    ckpt['by_epoch'] = False
    ckpt['interval'] = max(1, -(-max_iters // max(1, saves)))
    ckpt['max_keep_ckpts'] = 1
    ckpt['save_last'] = True
    return cfg


def scale_iter_schedule(cfg: Config, max_iters: int) -> Config:
    """Set an iteration-based config to ``max_iters`` iterations.

    ``train_cfg.max_iters`` is replaced, and every iteration-based
    ``param_scheduler`` (``begin``/``end``/``T_max``) and the iteration
    intervals of validation and checkpointing and the ``start_iters`` of
    custom hooks (e.g. DenseCL's lambda warm-up) are rescaled by
    ``max_iters / old_max_iters``, so warm-up and decay keep their shape.

    Args:
        cfg (Config): Config with ``train_cfg.type='IterBasedTrainLoop'``.
        max_iters (int): New number of iterations (>= 1).

    Returns:
        Config: ``cfg``, modified in place.
    """
    if max_iters < 1:
        raise ValueError(f'max_iters must be >= 1, got {max_iters}')
    train_cfg = cfg.get('train_cfg', None)
    if not train_cfg or 'max_iters' not in train_cfg:
        raise KeyError(
            f'{cfg.filename}: train_cfg.max_iters is required (an '
            'IterBasedTrainLoop config), got train_cfg={train_cfg}')
    old = int(train_cfg['max_iters'])
    ratio = max_iters / old

    def rescale(v):
        return max(0, min(max_iters, int(round(v * ratio))))

    train_cfg['max_iters'] = max_iters
    if 'val_interval' in train_cfg:
        train_cfg['val_interval'] = max(
            1, min(max_iters, rescale(train_cfg['val_interval'])))
    scheds = cfg.get('param_scheduler', None) or []
    if isinstance(scheds, dict):
        scheds = [scheds]
    for sched in scheds:
        if sched.get('by_epoch', True) and not sched.get(
                'convert_to_iter_based', False):
            raise ValueError(
                f'{cfg.filename}: param_scheduler {sched.get("type")} must '
                'be iteration based (by_epoch=False)')
        if 'begin' in sched:
            sched['begin'] = rescale(sched['begin'])
        if 'end' in sched:
            sched['end'] = max(sched.get('begin', 0) + 1,
                               rescale(sched['end']))
        if 'T_max' in sched:
            sched['T_max'] = max(1, rescale(sched['T_max']))
    for hook in cfg.get('custom_hooks', None) or []:
        if isinstance(hook.get('start_iters', None), int):
            hook['start_iters'] = rescale(hook['start_iters'])
    ckpt = cfg.get('default_hooks', {}).get('checkpoint', None)
    if ckpt is not None and ckpt.get('interval', -1) > 0:
        ckpt['interval'] = max(1, min(max_iters, rescale(ckpt['interval'])))
    return cfg


def set_data_root(cfg: Config, data_root: str) -> Config:
    """Point every dataloader (and the COCO evaluator) at ``data_root``.

    Handles datasets nested in wrappers (``dataset.dataset``); a relative
    ``ann_file`` of an evaluator is re-rooted if it lives under the old
    data root.
    """
    data_root = osp.join(osp.abspath(data_root), '')

    def fix_dataset(ds):
        while ds is not None:
            old = ds.get('data_root', None)
            if 'data_root' in ds or 'ann_file' in ds or 'data_prefix' in ds:
                ds['data_root'] = data_root
            for key in ('ann_file', ):
                val = ds.get(key, None)
                if isinstance(val, str) and old and val.startswith(old):
                    ds[key] = val[len(old):]
            ds = ds.get('dataset', None)

    old_root = None
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name, None)
        if loader:
            old_root = old_root or loader['dataset'].get('data_root', None)
            fix_dataset(loader['dataset'])
    for name in ('val_evaluator', 'test_evaluator'):
        ev = cfg.get(name, None)
        evs = ev if isinstance(ev, list) else [ev] if ev else []
        for e in evs:
            ann = e.get('ann_file', None)
            if isinstance(ann, str) and old_root and ann.startswith(old_root):
                e['ann_file'] = data_root + ann[len(old_root):]
    for hook in cfg.get('custom_hooks', None) or []:  # e.g. BoxKNNHook
        if 'data_root' in hook:
            hook['data_root'] = data_root
    return cfg


def read_last_metrics(work_dir: str, key: str = 'coco/bbox_mAP') -> Dict:
    """The last record holding ``key`` in a run's ``vis_data/scalars.json``.

    Looks at every ``<work_dir>/<timestamp>/vis_data/scalars.json`` and
    returns the newest matching record (a dict of metric -> value).
    """
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    for path in reversed(files):
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        for rec in reversed(records):
            if key in rec:
                return rec
    raise FileNotFoundError(
        f'no record with {key!r} in {work_dir}/*/vis_data/scalars.json; did '
        'the validation run?')


def validated_without_detections(work_dir: str) -> bool:
    """Whether the newest run's last record is a validation record with no
    metric in it: mmdet's ``CocoMetric`` returns nothing (and logs "The
    testing results of the whole dataset is empty") when the detector made
    no detection at all, i.e. AP 0."""
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        return False
    with open(files[-1]) as f:
        records = [json.loads(line) for line in f if line.strip()]
    if not records or 'iter' in records[-1]:
        return False
    return not any('/' in key for key in records[-1])


def first_nan_loss_iter(work_dir: str) -> Optional[int]:
    """First logged iteration whose ``loss`` is NaN, or None."""
    for path in sorted(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line) if line.strip() else {}
                loss = rec.get('loss', 0.)
                if isinstance(loss, float) and loss != loss:
                    return rec.get('iter')
    return None


def _stage_done(work_dir: str, settings: Dict) -> Optional[Dict]:
    path = osp.join(work_dir, STAGE_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        rec = json.load(f)
    return rec if rec.get('settings') == settings else None


def run_train(cfg: Config, work_dir: str, settings: Dict,
              banner: Optional[Banner] = None,
              extra_env: Optional[Dict[str, str]] = None) -> Dict:
    """Run ``tools/train.py`` on ``cfg`` in ``work_dir`` (skipped if done).

    Args:
        cfg (Config): The full config to train.
        work_dir (str): Work directory of the run.
        settings (dict): What makes this run unique (JSON-serialisable);
            a finished run with equal settings is reused.
        banner (Banner, optional): For progress messages.
        extra_env (dict, optional): Extra environment variables.

    Returns:
        dict: ``settings``, ``work_dir``, ``checkpoint`` (the last one),
        ``seconds`` (training wall time) and ``reused``.
    """
    work_dir = osp.abspath(work_dir)
    done = _stage_done(work_dir, settings)
    if done is not None:
        if banner:
            banner.info(f'reusing finished run in {work_dir}')
        done['reused'] = True
        return done
    pending = osp.join(work_dir, PENDING_FILE)
    if osp.isdir(work_dir) and os.listdir(work_dir) and \
            not _is_stage_dir(work_dir):
        raise FileExistsError(
            f'{work_dir} is a non-empty folder that is not a demo stage '
            f'(no {PENDING_FILE}/{STAGE_FILE}); refusing to reuse or '
            'delete it. Choose another --work-dir.')
    stage = stage_folder(work_dir)
    with stage.lock(timeout=0):
        return _run_train_locked(cfg, stage, settings, pending, banner,
                                 extra_env)


def _run_train_locked(cfg, stage, settings, pending, banner, extra_env):
    """:func:`run_train` with the stage folder's lock held."""
    work_dir = stage.root
    same = False
    if osp.isfile(pending):
        with open(pending) as f:
            same = json.load(f) == settings
    if not same and any(n != LOCK_FILE for n in os.listdir(work_dir)):
        # leftovers of a run with other settings: start over, deleting
        # only what the demo wrote
        stage.check(
            'reset it for the new settings',
            'Move them out of the folder (a stage written by an older '
            'mmscrl, which did not record its files, you delete yourself), '
            'or choose another --work-dir.')
        stage.remove(remove_root=False, locked=True)
    atomic_write_text(pending, json.dumps(settings, indent=2))
    stage.claim(PENDING_FILE)
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg_path = osp.join(work_dir, 'config.py')
    cfg.dump(cfg_path)
    stage.claim('config.py')
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), cfg_path, '--work-dir',
        work_dir
    ]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')  # continue an interrupted run
        if banner:
            banner.info('resuming the interrupted run in ' + work_dir)
    env = dict(os.environ)
    env.update(extra_env or {})
    if banner:
        banner.info('running: ' + ' '.join(cmd))
    t0 = time.time()
    stage.begin_writer(TRAINING_RUN_OUTPUTS)
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env)
    finally:  # also on Ctrl-C; a killed job is caught up by the next look
        stage.end_writer()
    if proc.returncode != 0:
        raise RuntimeError(
            f'training failed (exit {proc.returncode}) in {work_dir}; see the '
            'log above and the config at ' + cfg_path)
    last = osp.join(work_dir, 'last_checkpoint')
    ckpt = None
    if osp.isfile(last):
        with open(last) as f:
            ckpt = f.read().strip()
    rec = dict(
        settings=settings,
        work_dir=work_dir,
        checkpoint=ckpt,
        seconds=round(time.time() - t0, 1))
    atomic_write_text(
        osp.join(work_dir, STAGE_FILE), json.dumps(rec, indent=2))
    stage.claim(STAGE_FILE)
    rec['reused'] = False
    return rec


def pretrain_config(config: str, data_root: str, max_iters: Optional[int],
                    batch_size: Optional[int] = None,
                    num_workers: Optional[int] = None,
                    seed: int = 0) -> Config:
    """Load a demo pre-training config and apply the demo overrides."""
    cfg = Config.fromfile(config)
    if max_iters:
        scale_iter_schedule(cfg, max_iters)
    set_data_root(cfg, data_root)
    loader = cfg.train_dataloader
    if batch_size:
        loader.batch_size = batch_size
    if num_workers is not None:
        loader.num_workers = num_workers
        loader.persistent_workers = num_workers > 0
    cfg.randomness = dict(seed=seed)
    set_checkpoint_interval(cfg)
    return cfg


def detector_config(config: str, data_root: str, max_iters: Optional[int],
                    pretrained: Optional[str], seed: int = 0,
                    num_workers: Optional[int] = None) -> Config:
    """Load the demo detector config; init its backbone from ``pretrained``.

    The config's backbone carries ``init_cfg=dict(type=
    'mmscrl.PretrainedBackbone', checkpoint=None)`` like the detection
    benchmark configs; ``set_pretrained`` (shared with the benchmarks'
    train tools) points it at ``pretrained`` (any checkpoint layout: the
    self-supervised model's online backbone is extracted) or, with
    ``pretrained=None``, drops it so the backbone keeps its random
    initialisation. Everything else, including the seed, is identical
    between the two.
    """
    cfg = Config.fromfile(config)
    if max_iters:
        scale_iter_schedule(cfg, max_iters)
        cfg.train_cfg.val_interval = cfg.train_cfg.max_iters
    set_data_root(cfg, data_root)
    if pretrained and not osp.isfile(pretrained):
        raise FileNotFoundError(f'pre-trained checkpoint {pretrained}')
    set_pretrained(cfg, pretrained or RANDOM_INIT)
    if num_workers is not None:
        for name in ('train_dataloader', 'val_dataloader',
                     'test_dataloader'):
            cfg[name].num_workers = num_workers
            cfg[name].persistent_workers = num_workers > 0
    cfg.randomness = dict(seed=seed)
    set_checkpoint_interval(cfg)
    return cfg


def _data_meta(data_root: str) -> Optional[Dict]:
    """The demo generator's ``meta.json`` of ``data_root`` (None if absent:
    a data set of the user's)."""
    path = osp.join(data_root, 'meta.json')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


_CONFIG_LOCK = threading.Lock()


def omp_threads() -> int:
    """The threads the demo job may use: ``OMP_NUM_THREADS`` (its first
    level, as OpenMP reads a nested ``"4,2"``), else the CPU count when the
    variable is unset or not a positive integer."""
    try:
        n = int(os.environ.get('OMP_NUM_THREADS', '').split(',')[0])
    except ValueError:
        n = 0
    return n if n >= 1 else (os.cpu_count() or 1)


def detector_env(jobs: int) -> Optional[Dict[str, str]]:
    """Environment of one of ``jobs`` detector runs trained at the same
    time: the job's threads (:func:`omp_threads`) split between them; None
    for one run at a time."""
    if jobs <= 1:
        return None
    return dict(OMP_NUM_THREADS=str(max(1, omp_threads() // jobs)))


def run_detector(det_config: str, work_dir: str, data_root: str,
                 max_iters: Optional[int], pretrained: Optional[str],
                 seed: int = 0, num_workers: Optional[int] = None,
                 banner: Optional[Banner] = None,
                 extra_env: Optional[Dict[str, str]] = None) -> Dict:
    """Train + evaluate the demo detector; return its COCO bbox metrics.

    ``extra_env`` (e.g. ``OMP_NUM_THREADS``) is added to the training
    process's environment.

    A detector that made no detection on the val set (training collapsed
    to background without a NaN) scores AP 0; its record says so with
    ``no_detections=True``, a warning is printed and the results table
    names it.

    Returns:
        dict: ``bbox_mAP``, ``bbox_mAP_50`` (in [0, 1]), ``seconds`` and
        the run record of :func:`run_train`.
    """
    with _CONFIG_LOCK:  # mmengine's pkg:: lookup (pkg_resources) is not
        # thread-safe: run_all_demos --jobs calls this from threads
        cfg = detector_config(det_config, data_root, max_iters, pretrained,
                              seed=seed, num_workers=num_workers)
    settings = dict(
        config=osp.abspath(det_config),
        data_root=osp.abspath(data_root),
        max_iters=cfg.train_cfg.max_iters,
        pretrained=pretrained,
        pretrained_mtime=(os.stat(pretrained).st_mtime_ns
                          if pretrained else None),
        seed=seed,
        # the generation arguments (sizes, seed, version) of the data: a
        # finished detector on other data is not reused
        data=_data_meta(data_root))
    rec = run_train(cfg, work_dir, settings, banner=banner,
                    extra_env=extra_env)
    try:
        metrics = read_last_metrics(work_dir)
    except FileNotFoundError:
        nan_iter = first_nan_loss_iter(work_dir)
        if nan_iter is not None:
            raise RuntimeError(
                f'detector training in {work_dir} diverged (loss NaN from '
                f'iteration {nan_iter}); no detections to evaluate')
        if not validated_without_detections(work_dir):
            raise
        print(f'WARNING: the detector in {work_dir} made no detection on the '
              'val set (AP 0): its training collapsed to background; see '
              'the loss curve in its log', flush=True)
        rec.update(bbox_mAP=0., bbox_mAP_50=0., no_detections=True)
        return rec
    rec.update(
        bbox_mAP=float(metrics['coco/bbox_mAP']),
        bbox_mAP_50=float(metrics['coco/bbox_mAP_50']))
    return rec


def format_results(rows: Sequence[Dict]) -> str:
    """Markdown table ``init | bbox AP | AP50 | ...`` (AP in percent);
    box/image kNN top-1 columns when a row has them."""
    knn = any('box_knn_top1' in r for r in rows)
    lines = [
        '| init | bbox AP | AP50 | '
        + ('box kNN | image kNN | ' if knn else '')
        + 'pre-train (s) | detector (s) |',
        '|---|---:|---:|' + ('---:|---:|' if knn else '') + '---:|---:|'
    ]
    for r in rows:
        if r.get('error'):
            lines.append(f'| {r["init"]} | n/a | n/a | '
                         + ('n/a | n/a | ' if knn else '') + '- | - |')
            continue
        pre = r.get('pretrain_seconds')
        knn_cols = ''.join(
            '- | ' if r.get(k) is None else f'{r[k]:.1f} | '
            for k in ('box_knn_top1', 'image_knn_top1')) if knn else ''
        lines.append(
            f'| {r["init"]} | {100 * r["bbox_mAP"]:.1f} | '
            f'{100 * r["bbox_mAP_50"]:.1f} | {knn_cols}'
            f'{"-" if pre is None else f"{pre:.0f}"} | '
            f'{r["detector_seconds"]:.0f} |')
    notes = [f'- {r["init"]}: not available: {r["error"]}'
             for r in rows if r.get('error')]
    notes += [f'- {r["init"]}: the detector made no detection on the val '
              'set (AP 0): its fine-tuning collapsed to background'
              for r in rows if r.get('no_detections')]
    return '\n'.join(lines + ([''] + notes if notes else [])) + '\n'


def format_mean_std(stats: Optional[Dict], scale: float = 1.,
                    digits: int = 1) -> str:
    """``'mean ± std (n)'`` of a :func:`mmscrl.evaluation.mean_std` dict
    (times ``scale``); ``'mean (1)'`` for one value (no sample std), ``'-'``
    for None."""
    if stats is None:
        return '-'
    mean = f'{scale * stats["mean"]:.{digits}f}'
    if stats.get('std') is None:
        return f'{mean} ({stats["n"]})'
    return f'{mean} ± {scale * stats["std"]:.{digits}f} ({stats["n"]})'


def format_seed_results(rows: Sequence[Dict],
                        columns: Sequence[tuple] = (),
                        agreement: Sequence[Dict] = ()) -> str:
    """Markdown of the multi-seed demo table (``run_all_demos.py``).

    Columns: init, bbox AP and AP50 (``mean ± std (n)`` in percent, over
    the detector runs), the AP difference of the means to the row's
    baseline, each monitor column (``mean ± std (n)`` over pre-training
    seeds), and the mean wall time per run of pre-training and detector;
    then notes (failures, detectors without detections) and the
    Spearman's rho of each monitor column against AP.

    Args:
        rows (Sequence[dict]): ``aggregate`` rows of ``run_all_demos.py``
            (``init``, ``stats``, ``baseline``, ``delta_bbox_mAP``, seconds,
            ``errors``, ``error``, ``no_detections``).
        columns (Sequence[tuple]): ``(key, label)`` of the monitor columns.
        agreement (Sequence[dict]): ``column``, ``label``, ``rho``,
            ``pairs`` per monitor column.

    Returns:
        str: The table, its notes and the agreement table.
    """
    head = (['init', 'bbox AP', 'Δ AP vs baseline', 'AP50']
            + [label for _, label in columns]
            + ['pre-train (s)', 'detector (s)'])
    lines = ['| ' + ' | '.join(head) + ' |',
             '|---|---:|---|---:|' + '---:|' * len(columns) + '---:|---:|']
    for r in rows:
        st = r.get('stats', {})
        if r.get('error'):
            cells = ['n/a'] * (3 + len(columns)) + ['-', '-']
        else:
            delta = r.get('delta_bbox_mAP')
            cells = [
                format_mean_std(st.get('bbox_mAP'), 100),
                '-' if delta is None else
                f'{100 * delta:+.1f} vs {r["baseline"]}',
                format_mean_std(st.get('bbox_mAP_50'), 100)
            ] + [format_mean_std(st.get(key)) for key, _ in columns] + [
                '-' if r.get(k) is None else f'{r[k]:.0f}'
                for k in ('pretrain_seconds', 'detector_seconds')
            ]
        lines.append(f'| {r["init"]} | ' + ' | '.join(cells) + ' |')
    notes = []
    for r in rows:
        if r.get('error'):
            notes.append(f'- {r["init"]}: not available: {r["error"]}')
        elif r.get('errors'):
            notes += [f'- {r["init"]}: failed run (left out of the mean): '
                      f'{e}' for e in r['errors']]
        if r.get('no_detections'):
            notes.append(f'- {r["init"]}: {r["no_detections"]} detector '
                         'run(s) made no detection on the val set (AP 0): '
                         'fine-tuning collapsed to background')
    out = lines + ([''] + notes if notes else [])
    if agreement:
        out += [''] + _agreement_table(agreement)
    return '\n'.join(out) + '\n'


def _rho_cell(a: Optional[Dict], pairs: bool = False) -> str:
    if not a:
        return '-'
    cell = (f'n/a ({a.get("note") or "no ranking"})' if a['rho'] is None
            else f'{a["rho"]:+.2f}')
    return cell + (f' ({a["pairs"]})' if pairs else '')


def _agreement_table(agreement: Sequence[Dict]) -> List[str]:
    """Markdown lines of the monitors' Spearman's rho vs AP: over all
    pairs; with several pre-training seeds also per seed and on the init
    means (``monitor_agreement`` of ``run_all_demos.py``)."""
    head = ('Agreement with detection AP: Spearman\'s rank correlation '
            '(ties: average ranks) between each monitor column and the mean '
            'AP of the detector runs of each (init, pre-training seed) '
            'pair')
    seeds = sorted({s for a in agreement for s in a.get('per_seed') or {}})
    if not any(a.get('init_means') for a in agreement):
        return [head + ', over all pairs:', '',
                '| monitor | Spearman ρ vs AP | pairs |', '|---|---:|---:|'
                ] + [f'| {a["label"]} | {_rho_cell(a)} | {a["pairs"]} |'
                     for a in agreement]
    lines = [
        head + ': over all pairs, within each pre-training seed, and '
        'between the init means over the seeds (each init\'s monitor '
        'values and pair APs averaged); pairs in brackets:', '',
        '| monitor | all pairs | ' + ' | '.join(f'seed {s}' for s in seeds)
        + ' | init means |', '|---|' + '---:|' * (len(seeds) + 2)
    ]
    for a in agreement:
        per = a.get('per_seed') or {}
        cells = [_rho_cell(a, True)] + [
            _rho_cell(per.get(s), True) for s in seeds
        ] + [_rho_cell(a.get('init_means'), True)]
        lines.append(f'| {a["label"]} | ' + ' | '.join(cells) + ' |')
    return lines


def write_results(rows: List[Dict], out_dir: str, meta: Dict,
                  table: Optional[str] = None,
                  extra: Optional[Dict] = None) -> Dict:
    """Write ``results.md`` and ``results.json`` atomically to ``out_dir``.

    Args:
        rows (list[dict]): The table's rows (saved in the JSON).
        out_dir (str): The demo work dir.
        meta (dict): Settings, listed under the table and saved.
        table (str, optional): The markdown table; defaults to
            :func:`format_results` of ``rows``.
        extra (dict, optional): More top-level JSON entries (e.g. every
            run's values).
    """
    os.makedirs(out_dir, exist_ok=True)
    if table is None:
        table = format_results(rows)
    md = ('# mmscrl demo: detection transfer on the synthetic demo data\n\n'
          + table + '\n' + ''.join(f'- {k}: {v}\n'
                                   for k, v in meta.items()))
    paths = dict(
        md=osp.join(out_dir, 'results.md'),
        json=osp.join(out_dir, 'results.json'))
    atomic_write_text(paths['md'], md)
    atomic_write_text(paths['json'],
                      json.dumps(dict(rows=rows, meta=meta, **(extra or {})),
                                 indent=2))
    work_dir_folder(out_dir).claim('results.md', 'results.json')
    return paths
