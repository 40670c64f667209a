# Copyright (c) mmscrl contributors. All rights reserved.
"""Run every method's demo, each next to its baseline, over seeds.

    .venv/bin/python tools/demo/run_all_demos.py
        [--methods byol scrl orl pixpro mocov2 densecl]
        [--seeds 0 1 2 | --seed S] [--det-seeds N] [--data-seed S]
        [--monitors c5 [c4 c4-256 probe-c4 ...]]
        [--work-dir work_dirs/demo_all]
        [--data-root data/demo] [--data-version V]
        [--pretrain-iters N] [--det-iters N] [--jobs N] [--smallest]
        [--skip-random]

For each pre-training seed, pre-train every method (a ResNet-18 on the
unlabeled demo images, configs/demo/*_demo.py; ORL runs its three stages:
stage 1 is that seed's BYOL run, shared with the BYOL row, stage 2 the
tools in tools/orl/ with sizes scaled to the 128 px demo images, stage 3 the
ORL demo config), one run at a time. Then train the demo Faster R-CNN
R18-FPN from each backbone with ``--det-seeds`` detector seeds; random init
gets as many detector runs (one per pre-training seed and detector seed);
``--jobs N`` trains N detectors at a time. Then every
backbone's monitors (``--monitors``; default ``c5``: today's box/image kNN
top-1 on C5 of the 128 px labelled images; see ``add_box_knn``).

Seeds: pre-training seed ``p`` seeds the pre-training and the random-init
monitor backbone; detector run ``j`` (0 .. N-1) of it uses seed
``p + 1000 * j``, the same for every init (paired runs). The demo data is
generated once, with ``--data-seed`` (default: the first seed). Work dirs:
``pretrain_<method>`` / ``det_<method>`` / ``orl_stage2`` for pre-training
seed 0 and detector run 0 (the single-seed job's names, so a single-seed
job's stages are reused by a multi-seed one), ``pretrain_<method>_s<p>``,
``orl_stage2_s<p>`` and ``det_<method>_s<p>_d<j>`` otherwise. The selective
search proposals (data only) are computed once, in the first seed's stage-2
folder.

Writes ``<work-dir>/results.{md,json}``: one row per init -- BYOL, then the
methods compared with it (SCRL, ORL, PixPro), MoCo v2, then DenseCL, then
random init -- with detection AP/AP50 as mean +- sample std over every
detector run (``mean ± std (n)``), each monitor column over the
pre-training seeds, the AP difference to the row's baseline (SCRL, ORL,
PixPro: BYOL; DenseCL: MoCo v2; BYOL, MoCo v2: random init; ``-`` when the
baseline has no row in the job, e.g. ORL without ``byol``), mean wall
times per stage, and the Spearman rank correlation between each monitor
column and detection AP over all (init, pre-training seed) pairs (AP
averaged over the pair's detector runs). results.json holds every run's
values. A run that fails is reported with its error (no number). Finished
stages are reused on reruns; an interrupted stage resumes from its last
checkpoint. ``--smallest`` is the CI setting (tiny data, a few iterations).
"""
import os
import os.path as osp
import subprocess
import sys
import traceback

from mmscrl.demo.ownership import ORL_STAGE2_OUTPUTS, OwnedFolder
from mmscrl.utils.cli import make_parser

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'demo'))

from run_demo import DEFAULTS, SMALLEST, add_run_arguments  # noqa: E402

CONFIGS = dict(
    scrl='configs/demo/scrl_resnet18_1xb32-coslr-500i_demo.py',
    densecl='configs/demo/densecl_resnet18_1xb32-coslr-500i_demo.py',
    byol='configs/demo/byol_resnet18_1xb32-coslr-500i_demo.py',
    orl='configs/demo/orl_resnet18_1xb32-coslr-500i_demo.py',
    pixpro='configs/demo/pixpro_resnet18_1xb32-coslr-500i_demo.py',
    mocov2='configs/demo/mocov2_resnet18_1xb32-coslr-500i_demo.py',
)
LABELS = dict(scrl='SCRL', densecl='DenseCL', orl='ORL', pixpro='PixPro',
              byol='BYOL', mocov2='MoCo v2', random='random init')
#: each init's baseline (the "vs baseline" column)
BASELINES = dict(scrl='byol', orl='byol', pixpro='byol', densecl='mocov2',
                 byol='random', mocov2='random')
#: row order: each baseline, then the methods compared with it
ROW_ORDER = ('byol', 'scrl', 'orl', 'pixpro', 'mocov2', 'densecl', 'random')
#: detector run j of pre-training seed p uses seed p + DET_SEED_STRIDE * j
DET_SEED_STRIDE = 1000
# ORL stage 2 on 128 px images: official sizes scaled by 128/640 (COCO) or
# 96/224 (crops), fewer neighbours and boxes for a small data set
ORL_STAGE2 = dict(k=5, resize=110, crop=96, min_size=20, topn=20,
                  patch_size=64)
ORL_STAGE2_SMALLEST = dict(k=3, resize=110, crop=96, min_size=16, topn=5,
                           patch_size=32)


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument('--methods', nargs='+', choices=list(CONFIGS),
                   default=['byol', 'scrl', 'orl', 'pixpro', 'mocov2',
                            'densecl'],
                   help='methods to run (orl also runs byol, its stage 1)')
    add_run_arguments(p, 'work_dirs/demo_all')
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument('--seeds', type=int, nargs='+',
                       help='pre-training seeds (if omitted: --seed)')
    seeds.add_argument('--seed', type=int, default=0,
                       help='a single pre-training seed (the same as '
                       '--seeds S)')
    p.add_argument('--det-seeds', type=int, default=1,
                   help='detector runs per pre-trained backbone (seeds p, '
                   f'p + {DET_SEED_STRIDE}, ...); random init gets as many '
                   'per pre-training seed')
    p.add_argument('--data-seed', type=int, default=None,
                   help='seed of the demo data (if omitted: the first '
                   'pre-training seed)')
    p.add_argument('--monitors', nargs='+', default=['c5'],
                   help='monitor columns, [probe-]c<2-5>[-<img_size>]: c5 = '
                   'box/image kNN on C5 of the 128 px labelled images, '
                   'c4-256 = on C4 of the images upsampled to 256 px, '
                   'probe-c4 = linear probe on C4 box features')
    p.add_argument('--jobs', type=int, default=1,
                   help='detector runs trained at the same time, each with '
                   'OMP_NUM_THREADS = cores // jobs (more throughput on '
                   'small CPU jobs; their wall times then overlap, and the '
                   'table says so)')
    p.add_argument('--smallest', action='store_true',
                   help='tiny CI setting (tiny data, a few iterations; '
                   'meaningless numbers)')
    args = p.parse_args(argv)
    args.seeds = list(dict.fromkeys(
        args.seeds if args.seeds is not None else [args.seed]))
    if min(args.seeds) < 0:
        p.error(f'--seeds must be >= 0, got {args.seeds}')
    if args.det_seeds < 1:
        p.error(f'--det-seeds must be >= 1, got {args.det_seeds}')
    if args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    det = [det_seed(s, j) for s in args.seeds for j in range(args.det_seeds)]
    if len(set(det)) != len(det):
        p.error(f'--seeds {args.seeds} with --det-seeds {args.det_seeds} '
                f'give repeated detector seeds (p + {DET_SEED_STRIDE} * j); '
                f'use pre-training seeds below {DET_SEED_STRIDE}')
    if args.data_seed is None:
        args.data_seed = args.seeds[0]
    from mmscrl.evaluation.checkpoint_eval import parse_monitor
    try:
        args.monitors = [parse_monitor(m) for m in dict.fromkeys(
            m.lower() for m in args.monitors)]
    except ValueError as e:
        p.error(f'--monitors: {e}')
    return args


def det_seed(pre_seed, index):
    """Seed of detector run ``index`` of pre-training seed ``pre_seed``."""
    return pre_seed + DET_SEED_STRIDE * index


def pretrain_dir(method, seed):
    """Pre-training work dir name (seed 0: the single-seed job's name)."""
    return f'pretrain_{method}' + ('' if seed == 0 else f'_s{seed}')


def detector_dir(init, seed, index):
    """Detector work dir name (seed 0, run 0: the single-seed job's)."""
    return f'det_{init}' + ('' if (seed, index) == (0, 0) else
                            f'_s{seed}_d{index}')


def stage2_dir(seed):
    return 'orl_stage2' + ('' if seed == 0 else f'_s{seed}')


def _opt(args, key):
    val = getattr(args, key, None)
    if val is not None:
        return val
    if args.smallest and key in SMALLEST:
        return SMALLEST[key]
    return DEFAULTS.get(key)


#: arguments of the stage-2 tools that do not change their outputs
_NEUTRAL_ARGS = ('--workers', '--num-workers', '--device')


def tool_inputs(cmd, out_file, data=None):
    """What a stage-2 tool's output depends on: its arguments (minus the
    speed-only ones), the size and mtime of every input file among them
    (checkpoint, earlier stage-2 files, annotations) and the demo data's
    ``meta.json`` (``data``)."""
    args, files, skip = [], {}, False
    for arg in cmd[1:]:
        if skip:
            skip = False
            continue
        if arg in _NEUTRAL_ARGS:
            skip = True
            continue
        args.append(arg)
        if arg != out_file and osp.isfile(arg):
            st = os.stat(arg)
            files[arg] = [st.st_size, st.st_mtime_ns]
    return dict(args=args, files=files, data=data)


def run_tool(cmd, out_file, banner, folder=None, data=None):
    """Run a stage-2 tool unless ``out_file`` exists (tools resume).

    ``folder`` (an ``OwnedFolder``, the demo's ``orl_stage2/``) records
    what the tool writes there, so ``--force`` removes exactly that.
    ``<out_file>.inputs.json`` records :func:`tool_inputs`; a finished
    ``out_file`` made from other inputs (another checkpoint, data set or
    setting) is refused, naming what changed, instead of being reused. An
    ``out_file`` without that record (written by an older version) is
    reused with a warning.
    """
    import json

    from mmscrl.utils.fileio import atomic_write_text
    stamp = out_file + '.inputs.json'
    inputs = tool_inputs(cmd, out_file, data)
    if osp.isfile(out_file):
        if not osp.isfile(stamp):
            banner.info(f'reusing {out_file} (no record of its inputs: '
                        'made by an older version; --force remakes it)')
            return out_file
        with open(stamp, encoding='utf-8') as f:
            old = json.load(f)
        changed = [k for k in ('args', 'files', 'data')
                   if old.get(k) != json.loads(json.dumps(inputs[k]))]
        if changed:
            raise RuntimeError(
                f'{out_file} was made from other inputs ({", ".join(changed)}'
                f' changed; see {stamp}): rerun with --force to remake the '
                'stage-2 files, or use another --work-dir')
        banner.info(f'reusing {out_file}')
        return out_file
    banner.info('running: ' + ' '.join(cmd))
    if folder is not None:
        folder.begin_writer(ORL_STAGE2_OUTPUTS)
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT)
        if proc.returncode == 0 and osp.isfile(out_file):
            atomic_write_text(stamp, json.dumps(inputs, indent=1))
    finally:
        if folder is not None:
            folder.end_writer()
    if proc.returncode != 0 or not osp.isfile(out_file):
        raise RuntimeError(f'{osp.basename(cmd[1])} failed (exit '
                           f'{proc.returncode}); no {out_file}')
    return out_file


def monitor_columns(monitors):
    """``(key, label)`` of each monitor's columns, in table order.

    ``c5`` keeps today's keys (``box_knn_top1``, ``image_knn_top1``);
    another monitor ``m`` gives ``<metric>:<m>``.
    """
    from mmscrl.evaluation.checkpoint_eval import parse_monitor
    names = dict(box_knn_top1='box kNN', image_knn_top1='image kNN',
                 box_probe_top1='box probe')
    cols = []
    for mon in monitors:
        mon = parse_monitor(mon) if isinstance(mon, str) else mon
        for metric in mon.metrics:
            if mon.name == 'c5':
                cols.append((metric, names[metric]))
            else:
                short = mon.name[len('probe-'):] if mon.kind == 'probe' \
                    else mon.name
                cols.append((f'{metric}:{mon.name}',
                             f'{names[metric]} {short}'))
    return cols


def add_box_knn(rows, runs, paths, seed, depth=18, monitors=('c5', ),
                cache=None):
    """Add each monitor's values (%) to each row.

    The measurement of ``BoxKNNHook`` (``mmscrl.evaluation``) and its
    variants (:func:`mmscrl.evaluation.parse_monitor`): the labelled demo
    train split votes for (kNN, k = 20, T = 0.07) or fits a linear probe
    scored on the val split, on the pre-trained backbone, or a randomly
    initialised ResNet-``depth`` (the demo backbone) with ``seed`` for the
    random-init row. Keys: :func:`monitor_columns`. A failure is reported
    and leaves the rows without that monitor's keys.

    Args:
        rows (list[dict]): Rows to update, one per entry of ``runs``; rows
            with ``error`` are skipped.
        runs (list[tuple]): ``(name, checkpoint or None)``.
        paths (dict): Demo data paths (``ann_train``, ``train``,
            ``ann_val``, ``val``).
        seed (int): Seed of the random-init backbone.
        depth (int): Its ResNet depth. Defaults to 18.
        monitors (Sequence[str | MonitorSpec]): Defaults to ``('c5', )``.
        cache (dict, optional): Labelled sets by input side, filled and
            reused across calls.
    """
    from mmscrl.evaluation.checkpoint_eval import (build_backbone,
                                                   evaluate_monitors,
                                                   load_detection_set,
                                                   parse_monitor)
    monitors = [parse_monitor(m) if isinstance(m, str) else m
                for m in monitors]
    keys = dict((m.name, [(metric, key) for metric, (key, _) in zip(
        m.metrics, monitor_columns([m]))]) for m in monitors)
    cache = {} if cache is None else cache
    try:
        for size in sorted({m.img_size for m in monitors} - set(cache)):
            cache[size] = tuple(
                load_detection_set(paths[a], paths[d], size)
                for a, d in (('ann_train', 'train'), ('ann_val', 'val')))
    except Exception:  # the detection table stays valid without it
        traceback.print_exc()
        print('[demo-all] box/image kNN failed (see above); the table '
              'has no kNN columns', flush=True)
        return
    for row, (_, ckpt) in zip(rows, runs):
        if row.get('error'):
            continue
        try:
            backbone = build_backbone(ckpt or 'random',
                                      depth=None if ckpt else depth,
                                      seed=seed)
        except Exception:
            traceback.print_exc()
            print(f'[demo-all] no monitors for {row.get("init")}: its '
                  'backbone did not load (see above)', flush=True)
            continue
        feats = {}  # shared by the monitors of one backbone
        for mon in monitors:
            try:
                res = evaluate_monitors(backbone, cache, [mon],
                                        feature_cache=feats)[mon.name]
            except Exception:
                traceback.print_exc()
                print(f'[demo-all] monitor {mon.name} failed for '
                      f'{row.get("init")} (see above)', flush=True)
                continue
            for metric, key in keys[mon.name]:
                row[key] = res[metric]


def main(argv=None):
    args = parse_args(argv)
    from demo_workflow import work_dir_folder
    work_dir = osp.abspath(args.work_dir)
    # one demo job per work dir: a second one is refused, naming the pid
    with work_dir_folder(work_dir).lock(timeout=0):
        return _main(args, work_dir)


def _main(args, work_dir):
    from demo_workflow import (Banner, _data_meta, detector_env,
                               format_seed_results, pretrain_config,
                               run_detector, run_train, write_results)

    import mmscrl  # noqa: F401
    from mmscrl.demo import ensure_demo_dataset

    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    data = {k: _opt(args, k) for k in ('num_unlabeled', 'num_train',
                                       'num_val', 'img_size')}
    data['version'] = args.data_version
    workers = _opt(args, 'workers')
    pre_iters = _opt(args, 'pretrain_iters')
    pre_batch = _opt(args, 'pretrain_batch')
    det_iters = _opt(args, 'det_iters')
    det_config = osp.join(REPO_ROOT, DEFAULTS['det_config'])
    methods = [m for m in ROW_ORDER if m in args.methods]
    pretrain_order = [m for m in ('byol', 'scrl', 'mocov2', 'densecl',
                                  'pixpro', 'orl')
                      if m in methods or (m == 'byol' and 'orl' in methods)]
    inits = methods + ([] if args.skip_random else ['random'])
    seeds, n_det = args.seeds, args.det_seeds
    banner = Banner(total=2 + len(seeds) * (
        len(pretrain_order) + ('orl' in methods) + len(inits) * n_det))

    banner('demo data')
    paths = ensure_demo_dataset(args.data_root, seed=args.data_seed, **data)

    ckpts, pre_secs, errors = {}, {}, {}
    proposals_dir = osp.join(work_dir, stage2_dir(seeds[0]))

    def pretrain(method, seed, cfg_path, extra=None):
        cfg = pretrain_config(cfg_path, args.data_root, pre_iters,
                              batch_size=pre_batch, num_workers=workers,
                              seed=seed)
        for k, v in (extra or {}).items():
            cfg.merge_from_dict({k: v})
        settings = dict(config=cfg_path, data=data, seed=seed,
                        max_iters=cfg.train_cfg.max_iters,
                        batch=cfg.train_dataloader.batch_size,
                        extra=extra or {})
        rec = run_train(cfg, osp.join(work_dir, pretrain_dir(method, seed)),
                        settings, banner=banner)
        if not rec.get('checkpoint') or not osp.isfile(rec['checkpoint']):
            raise FileNotFoundError(f'{method}: no checkpoint in '
                                    f'{rec["work_dir"]}')
        ckpts[method, seed] = rec['checkpoint']
        pre_secs[method, seed] = rec['seconds']

    def run_orl(seed):
        banner(f'ORL stage 2 (seed {seed}): image kNN, selective search, '
               'RoI pairs')
        s2 = ORL_STAGE2_SMALLEST if args.smallest else ORL_STAGE2
        s2_dir = osp.join(work_dir, stage2_dir(seed))
        s2_folder = OwnedFolder(s2_dir, 'ORL stage-2 folder')
        os.makedirs(s2_dir, exist_ok=True)
        props_folder = s2_folder if s2_dir == proposals_dir else OwnedFolder(
            proposals_dir, 'ORL stage-2 folder')
        os.makedirs(proposals_dir, exist_ok=True)
        s1_cfg = osp.join(work_dir, pretrain_dir('byol', seed), 'config.py')
        py = sys.executable
        img_root = paths['unlabeled']
        data_meta = _data_meta(args.data_root)
        knn = run_tool([
            py, 'tools/orl/extract_knn.py', s1_cfg, ckpts['byol', seed],
            '--data-root', img_root, '--ann-file', paths['ann_unlabeled'],
            '--out', osp.join(s2_dir, 'knn.npz'), '--k', str(s2['k']),
            '--resize', str(s2['resize']), '--crop', str(s2['crop']),
            '--device', 'cpu', '--num-workers', str(workers)
        ], osp.join(s2_dir, 'knn.npz'), banner, s2_folder, data_meta)
        props = run_tool([
            py, 'tools/orl/selective_search.py', '--data-root', img_root,
            '--ann-file', paths['ann_unlabeled'], '--out',
            osp.join(proposals_dir, 'proposals.npz'), '--workers',
            str(max(1, workers))
        ], osp.join(proposals_dir, 'proposals.npz'), banner, props_folder,
            data_meta)
        corr = run_tool([
            py, 'tools/orl/generate_correspondence.py', s1_cfg,
            ckpts['byol', seed], '--data-root', img_root, '--knn', knn,
            '--proposals', props, '--out',
            osp.join(s2_dir, 'correspondence.npz'), '--min-size',
            str(s2['min_size']), '--topn', str(s2['topn']),
            '--patch-size', str(s2['patch_size']), '--device', 'cpu',
            '--num-workers', str(workers)
        ], osp.join(s2_dir, 'correspondence.npz'), banner, s2_folder,
            data_meta)
        banner(f'ORL stage 3 pre-training (seed {seed})')
        pretrain('orl', seed, osp.join(REPO_ROOT, CONFIGS['orl']), {
            'train_dataloader.dataset.ann_file': corr,
            'train_dataloader.dataset.topk_knn_image': s2['k'],
        })

    runs = []  # one record per detector run
    det_tasks = []  # (record, checkpoint) of the detector runs to train
    for seed in seeds:
        for method in pretrain_order:
            if method == 'orl':
                if ('byol', seed) in errors:
                    errors['orl', seed] = ('stage 1 (BYOL) failed: '
                                           + errors['byol', seed])
                    continue
                try:
                    run_orl(seed)
                except Exception as e:  # report, keep the other methods
                    traceback.print_exc()
                    errors['orl', seed] = f'{type(e).__name__}: {e}'
                continue
            banner(f'pre-train {LABELS[method]} (seed {seed})'
                   + (' (also ORL stage 1)' if method == 'byol'
                      and 'orl' in methods else ''))
            try:
                pretrain(method, seed, osp.join(REPO_ROOT, CONFIGS[method]))
            except Exception as e:
                traceback.print_exc()
                errors[method, seed] = f'{type(e).__name__}: {e}'
        for init in inits:
            for j in range(n_det):
                rec = dict(init=LABELS[init], method=init, seed=seed,
                           det_index=j, det_seed=det_seed(seed, j))
                runs.append(rec)
                if (init, seed) in errors:
                    rec['error'] = errors[init, seed]
                    continue
                det_tasks.append((rec, ckpts.get((init, seed))))

    def train_detector(task):
        rec, ckpt = task
        banner(f'detector ({rec["init"]}, seed {rec["seed"]}, detector '
               f'seed {rec["det_seed"]})')
        try:
            det = run_detector(
                det_config,
                osp.join(work_dir, detector_dir(rec['method'], rec['seed'],
                                                rec['det_index'])),
                args.data_root, det_iters, ckpt, seed=rec['det_seed'],
                num_workers=workers, banner=banner, extra_env=det_env)
        except Exception as e:
            traceback.print_exc()
            rec['error'] = f'{type(e).__name__}: {e}'
            return
        rec.update(bbox_mAP=det['bbox_mAP'],
                   bbox_mAP_50=det['bbox_mAP_50'],
                   pretrain_seconds=pre_secs.get((rec['method'],
                                                  rec['seed'])),
                   detector_seconds=det['seconds'],
                   pretrain_checkpoint=ckpt,
                   work_dir=det['work_dir'])
        if args.jobs > 1 and not det.get('reused'):
            rec['detector_jobs'] = args.jobs
        if det.get('no_detections'):
            rec['no_detections'] = True

    # the detectors after every pre-training: with --jobs N, N at a time
    det_env = detector_env(args.jobs)
    if args.jobs == 1:
        for task in det_tasks:
            train_detector(task)
    else:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(train_detector, det_tasks))

    banner('monitors of the backbones: ' + ', '.join(
        m.name for m in args.monitors))
    backbones, cache = [], {}
    for seed in seeds:
        recs = [dict(init=LABELS[i], method=i, seed=seed,
                     checkpoint=ckpts.get((i, seed)))
                for i in inits]
        for rec in recs:
            if (rec['method'], rec['seed']) in errors:
                rec['error'] = errors[rec['method'], rec['seed']]
        add_box_knn(recs, [(r['method'], r['checkpoint']) for r in recs],
                    paths, seed, monitors=args.monitors, cache=cache)
        backbones += recs

    columns = monitor_columns(args.monitors)
    rows = aggregate(inits, runs, backbones, columns)
    agreement = monitor_agreement(inits, runs, backbones, columns)
    meta = dict(
        det_config=DEFAULTS['det_config'],
        pretrain_configs={m: CONFIGS[m] for m in methods if m in CONFIGS},
        data=f'{data["num_unlabeled"]} unlabeled / {data["num_train"]} '
        f'train / {data["num_val"]} val images, {data["img_size"]} px, '
        f'seed {args.data_seed}, data version {args.data_version}',
        seeds=seeds, det_seeds_per_backbone=n_det,
        det_seed_rule=f'pre-training seed + {DET_SEED_STRIDE} x detector '
        'run index',
        monitors=[m.name for m in args.monitors],
        detector_jobs=args.jobs,
        total_wall_seconds=round(banner.elapsed(), 1),
        smallest=bool(args.smallest))
    table = format_seed_results(rows, columns, agreement)
    if any(r.get('detector_jobs') for r in runs):
        table += (f'\n\nDetector wall times: {args.jobs} detector runs '
                  'trained at a time (--jobs), each with OMP_NUM_THREADS='
                  f'{det_env["OMP_NUM_THREADS"]}: not times of one run '
                  'alone.')
    out = write_results(rows, work_dir, meta, table=table,
                        extra=dict(agreement=agreement, runs=runs,
                                   backbones=backbones))
    print('\n' + table)
    print(f'[demo-all] done in {banner.elapsed() / 60:.1f} min; results: '
          f'{out["md"]}, {out["json"]}', flush=True)
    return dict(rows=rows, runs=runs, backbones=backbones,
                agreement=agreement, meta=meta, paths=out)


def _stats(values):
    from mmscrl.evaluation.agreement import mean_std
    return dict(mean_std(values), values=list(values)) if values else None


def aggregate(inits, runs, backbones, columns):
    """One row per init: mean/std/n of AP, AP50 (over detector runs) and
    of each monitor column (over pre-training seeds), the AP difference to
    the baseline's mean, mean wall times, and the errors.

    Args:
        inits (list[str]): Init keys in row order (``LABELS`` keys).
        runs (list[dict]): Detector-run records (``method``, ``seed``,
            ``bbox_mAP``, ``bbox_mAP_50``, seconds, or ``error``).
        backbones (list[dict]): Per (init, seed) monitor records.
        columns (list[tuple]): :func:`monitor_columns`.

    Returns:
        list[dict]: ``init``, ``method``, ``stats`` (key -> ``mean``,
        ``std``, ``n``, ``values``), the means as ``bbox_mAP``,
        ``bbox_mAP_50`` and each monitor key, ``baseline`` and
        ``delta_bbox_mAP`` (None when the baseline has no row or no AP),
        ``pretrain_seconds``, ``detector_seconds`` (means per run),
        ``errors``, ``no_detections`` and ``error`` (every run failed).
    """
    rows = []
    for init in inits:
        mine = [r for r in runs if r['method'] == init]
        ok = [r for r in mine if not r.get('error')]
        row = dict(init=LABELS[init], method=init, stats={},
                   errors=[f'seed {r["seed"]}, detector seed '
                           f'{r["det_seed"]}: {r["error"]}'
                           for r in mine if r.get('error')])
        for key in ('bbox_mAP', 'bbox_mAP_50'):
            row['stats'][key] = _stats([r[key] for r in ok])
        for key, _ in columns:
            row['stats'][key] = _stats([
                b[key] for b in backbones
                if b['method'] == init and key in b])
        for key, st in row['stats'].items():
            if st is not None:
                row[key] = st['mean']
        for key in ('pretrain_seconds', 'detector_seconds'):
            vals = [r[key] for r in ok if r.get(key) is not None]
            row[key] = sum(vals) / len(vals) if vals else None
        row['no_detections'] = sum(bool(r.get('no_detections')) for r in ok)
        if not ok:
            row['error'] = row['errors'][0] if row['errors'] else 'no run'
        rows.append(row)
    by_method = {r['method']: r for r in rows}
    for row in rows:
        base = by_method.get(BASELINES.get(row['method']))
        row['baseline'] = base['init'] if base else None
        row['delta_bbox_mAP'] = (
            row['bbox_mAP'] - base['bbox_mAP']
            if base and 'bbox_mAP' in base and 'bbox_mAP' in row else None)
    return rows


def _rho(xs, ys):
    """``(rho, note)``: Spearman's rho of paired values, or None and why."""
    from mmscrl.evaluation.agreement import spearman_rank_correlation
    if len(xs) < 2:
        return None, 'fewer than 2 pairs'
    rho = spearman_rank_correlation(xs, ys)
    if rho != rho:  # NaN
        return None, 'constant ' + ('AP' if len(set(ys)) == 1
                                    else 'monitor values')
    return rho, None


def monitor_agreement(inits, runs, backbones, columns):
    """Spearman's rho between each monitor column and detection AP.

    A pair is one (init, pre-training seed) backbone that has both: the
    monitor's value and the mean AP of its detector runs. Three readings:

    * over all pairs (``rho``, ``pairs``);
    * within each pre-training seed (``per_seed``): does the monitor rank
      the inits of one seed as their detectors do;
    * on the init means (``init_means``): each init's monitor values and
      pair APs averaged over its seeds, which averages out part of the
      seed-to-seed noise of both; only with 2 or more seeds.

    Returns:
        list[dict]: ``column``, ``label``, ``rho`` (None when fewer than 2
        pairs, or when the column or the AP is constant: no ranking),
        ``pairs``, ``note`` (why ``rho`` is None, else None),
        ``per_seed`` (seed -> dict of ``rho``, ``pairs``, ``note``) and
        ``init_means`` (dict of ``rho``, ``pairs``, ``note``, or None
        with one seed).
    """
    out = []
    for key, label in columns:
        pairs = []  # (init, seed, monitor value, mean AP)
        for b in backbones:
            if b['method'] not in inits or key not in b:
                continue
            aps = [r['bbox_mAP'] for r in runs
                   if r['method'] == b['method'] and r['seed'] == b['seed']
                   and not r.get('error')]
            if aps:
                pairs.append((b['method'], b['seed'], b[key],
                              sum(aps) / len(aps)))
        rho, note = _rho([p[2] for p in pairs], [p[3] for p in pairs])
        per_seed = {}
        seeds = sorted({p[1] for p in pairs})
        for seed in seeds:
            mine = [p for p in pairs if p[1] == seed]
            r, n = _rho([p[2] for p in mine], [p[3] for p in mine])
            per_seed[seed] = dict(rho=r, pairs=len(mine), note=n)
        means = None
        if len(seeds) > 1:
            groups = {}
            for p in pairs:
                groups.setdefault(p[0], []).append(p)
            xs = [sum(p[2] for p in g) / len(g) for g in groups.values()]
            ys = [sum(p[3] for p in g) / len(g) for g in groups.values()]
            r, n = _rho(xs, ys)
            means = dict(rho=r, pairs=len(xs), note=n)
        out.append(dict(column=key, label=label, rho=rho, pairs=len(pairs),
                        note=note, per_seed=per_seed, init_means=means))
    return out


if __name__ == '__main__':
    main()
