# Copyright (c) mmscrl contributors. All rights reserved.
"""Run every method's demo and write one results table.

    .venv/bin/python tools/demo/run_all_demos.py
        [--methods scrl densecl orl pixpro byol]
        [--work-dir work_dirs/demo_all]
        [--data-root data/demo] [--pretrain-iters N] [--det-iters N]
        [--smallest] [--skip-random]

For each method: pre-train a ResNet-18 on the unlabeled demo images
(configs/demo/*_demo.py), then train the demo Faster R-CNN R18-FPN from it;
plus the same detector from random init; then the box-level and
image-level kNN top-1 of every backbone (``add_box_knn``). ORL runs its
three stages: stage 1 is the BYOL demo run (shared with the BYOL row),
stage 2 the tools in tools/orl/ (image kNN, selective search, RoI pairs;
sizes scaled to the 128 px demo images), stage 3 the ORL demo config. Writes
``<work-dir>/results.{md,json}``; a method that fails is reported as not
available with its error (no number). Finished stages are reused on reruns;
an interrupted stage resumes from its last checkpoint.
``--smallest`` is the CI setting (tiny data, a few iterations).
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
)
LABELS = dict(scrl='SCRL', densecl='DenseCL', orl='ORL', pixpro='PixPro',
              byol='BYOL')
# ORL stage 2 on 128 px images: official sizes scaled by 128/640 (COCO) or
# 96/224 (crops), fewer neighbours and boxes for a small data set
ORL_STAGE2 = dict(k=5, resize=110, crop=96, min_size=20, topn=20,
                  patch_size=64)
ORL_STAGE2_SMALLEST = dict(k=3, resize=110, crop=96, min_size=16, topn=5,
                           patch_size=32)


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument('--methods', nargs='+', choices=list(CONFIGS),
                   default=['scrl', 'densecl', 'orl', 'pixpro', 'byol'],
                   help='methods to run (orl also runs byol, its stage 1)')
    add_run_arguments(p, 'work_dirs/demo_all')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the demo data, of every training run and '
                   'of the random-init kNN backbone')
    p.add_argument('--smallest', action='store_true',
                   help='tiny CI setting (tiny data, a few iterations; '
                   'meaningless numbers)')
    return p.parse_args(argv)


def _opt(args, key):
    val = getattr(args, key, None)
    if val is not None:
        return val
    if args.smallest and key in SMALLEST:
        return SMALLEST[key]
    return DEFAULTS.get(key)


def run_tool(cmd, out_file, banner, folder=None):
    """Run a stage-2 tool unless ``out_file`` exists (tools resume).

    ``folder`` (an ``OwnedFolder``, the demo's ``orl_stage2/``) records
    what the tool writes there, so ``--force`` removes exactly that.
    """
    if osp.isfile(out_file):
        banner.info(f'reusing {out_file}')
        return out_file
    banner.info('running: ' + ' '.join(cmd))
    if folder is not None:
        folder.begin_writer(ORL_STAGE2_OUTPUTS)
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT)
    finally:
        if folder is not None:
            folder.end_writer()
    if proc.returncode != 0 or not osp.isfile(out_file):
        raise RuntimeError(f'{osp.basename(cmd[1])} failed (exit '
                           f'{proc.returncode}); no {out_file}')
    return out_file


def add_box_knn(rows, runs, paths, seed, depth=18):
    """Add ``box_knn_top1``/``image_knn_top1`` (%) to each row.

    The measurement of ``BoxKNNHook`` (``mmscrl.evaluation``): the labelled
    demo train split votes for the val split, k = 20, T = 0.07, on the
    pre-trained backbone, or a randomly initialised ResNet-``depth`` (the
    demo backbone) with ``seed`` for the random-init row. A failure is
    reported and leaves the rows without the two keys.
    """
    try:
        from mmscrl.evaluation import (build_backbone, evaluate_backbone,
                                       load_detection_set)
        train = load_detection_set(paths['ann_train'], paths['train'])
        val = load_detection_set(paths['ann_val'], paths['val'])
        for row, (_, ckpt) in zip(rows, runs):
            if row.get('error'):
                continue
            backbone = build_backbone(ckpt or 'random',
                                      depth=None if ckpt else depth,
                                      seed=seed)
            metrics = evaluate_backbone(backbone, train, val, ks=(20, ))
            row.update(box_knn_top1=metrics['box_k20_top1'],
                       image_knn_top1=metrics['image_k20_top1'])
    except Exception:  # the detection table stays valid without it
        traceback.print_exc()
        print('[demo-all] box/image kNN failed (see above); the table '
              'has no kNN columns', flush=True)


def main(argv=None):
    args = parse_args(argv)
    from demo_workflow import work_dir_folder
    work_dir = osp.abspath(args.work_dir)
    # one demo job per work dir: a second one is refused, naming the pid
    with work_dir_folder(work_dir).lock(timeout=0):
        return _main(args, work_dir)


def _main(args, work_dir):
    from demo_workflow import (Banner, format_results, pretrain_config,
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
    methods = list(dict.fromkeys(args.methods))
    pretrain_order = [m for m in ('byol', 'scrl', 'densecl', 'pixpro', 'orl')
                      if m in methods or (m == 'byol' and 'orl' in methods)]
    n_stages = 2 + len(pretrain_order) + len(methods) + (
        0 if args.skip_random else 1) + ('orl' in methods)
    banner = Banner(total=n_stages)

    banner('demo data')
    paths = ensure_demo_dataset(args.data_root, seed=args.seed, **data)

    ckpts, pre_secs, errors = {}, {}, {}

    def pretrain(method, cfg_path, extra=None):
        cfg = pretrain_config(cfg_path, args.data_root, pre_iters,
                              batch_size=pre_batch, num_workers=workers,
                              seed=args.seed)
        for k, v in (extra or {}).items():
            cfg.merge_from_dict({k: v})
        settings = dict(config=cfg_path, data=data, seed=args.seed,
                        max_iters=cfg.train_cfg.max_iters,
                        batch=cfg.train_dataloader.batch_size,
                        extra=extra or {})
        rec = run_train(cfg, osp.join(work_dir, f'pretrain_{method}'),
                        settings, banner=banner)
        if not rec.get('checkpoint') or not osp.isfile(rec['checkpoint']):
            raise FileNotFoundError(f'{method}: no checkpoint in '
                                    f'{rec["work_dir"]}')
        ckpts[method], pre_secs[method] = rec['checkpoint'], rec['seconds']

    for method in pretrain_order:
        if method == 'orl':
            if 'byol' in errors:
                errors['orl'] = f'stage 1 (BYOL) failed: {errors["byol"]}'
                continue
            try:
                banner('ORL stage 2: image kNN, selective search, RoI pairs')
                s2 = ORL_STAGE2_SMALLEST if args.smallest else ORL_STAGE2
                s2_dir = osp.join(work_dir, 'orl_stage2')
                s2_folder = OwnedFolder(s2_dir, 'ORL stage-2 folder')
                os.makedirs(s2_dir, exist_ok=True)
                s1_cfg = osp.join(work_dir, 'pretrain_byol', 'config.py')
                py = sys.executable
                img_root = paths['unlabeled']
                knn = run_tool([
                    py, 'tools/orl/extract_knn.py', s1_cfg, ckpts['byol'],
                    '--data-root', img_root, '--ann-file',
                    paths['ann_unlabeled'], '--out',
                    osp.join(s2_dir, 'knn.npz'), '--k', str(s2['k']),
                    '--resize', str(s2['resize']), '--crop', str(s2['crop']),
                    '--device', 'cpu', '--num-workers', str(workers)
                ], osp.join(s2_dir, 'knn.npz'), banner, s2_folder)
                props = run_tool([
                    py, 'tools/orl/selective_search.py', '--data-root',
                    img_root, '--ann-file', paths['ann_unlabeled'], '--out',
                    osp.join(s2_dir, 'proposals.npz'), '--workers',
                    str(max(1, workers))
                ], osp.join(s2_dir, 'proposals.npz'), banner, s2_folder)
                corr = run_tool([
                    py, 'tools/orl/generate_correspondence.py', s1_cfg,
                    ckpts['byol'], '--data-root', img_root, '--knn', knn,
                    '--proposals', props, '--out',
                    osp.join(s2_dir, 'correspondence.npz'), '--min-size',
                    str(s2['min_size']), '--topn', str(s2['topn']),
                    '--patch-size', str(s2['patch_size']), '--device', 'cpu',
                    '--num-workers', str(workers)
                ], osp.join(s2_dir, 'correspondence.npz'), banner,
                    s2_folder)
                banner('ORL stage 3 pre-training')
                pretrain('orl', osp.join(REPO_ROOT, CONFIGS['orl']), {
                    'train_dataloader.dataset.ann_file': corr,
                    'train_dataloader.dataset.topk_knn_image': s2['k'],
                })
            except Exception as e:  # report, keep the other methods
                traceback.print_exc()
                errors['orl'] = f'{type(e).__name__}: {e}'
            continue
        banner(f'pre-train {LABELS[method]}'
               + (' (also ORL stage 1)' if method == 'byol'
                  and 'orl' in methods else ''))
        try:
            pretrain(method, osp.join(REPO_ROOT, CONFIGS[method]))
        except Exception as e:
            traceback.print_exc()
            errors[method] = f'{type(e).__name__}: {e}'

    rows = []
    runs = [(m, ckpts.get(m)) for m in methods]
    if not args.skip_random:
        runs.append(('random', None))
    for method, ckpt in runs:
        label = LABELS.get(method, 'random init')
        if method in errors:
            rows.append(dict(init=label, error=errors[method]))
            continue
        banner(f'detector ({label})')
        try:
            det = run_detector(
                det_config, osp.join(work_dir, f'det_{method}'),
                args.data_root, det_iters, ckpt, seed=args.seed,
                num_workers=workers, banner=banner)
        except Exception as e:
            traceback.print_exc()
            rows.append(dict(init=label, error=f'{type(e).__name__}: {e}'))
            continue
        rows.append(
            dict(init=label, bbox_mAP=det['bbox_mAP'],
                 bbox_mAP_50=det['bbox_mAP_50'],
                 pretrain_seconds=pre_secs.get(method),
                 detector_seconds=det['seconds'], pretrain_checkpoint=ckpt,
                 work_dir=det['work_dir']))

    banner('box-level / image-level kNN of the backbones')
    add_box_knn(rows, runs, paths, args.seed)

    meta = dict(
        det_config=DEFAULTS['det_config'],
        pretrain_configs={m: CONFIGS[m] for m in methods},
        data=f'{data["num_unlabeled"]} unlabeled / {data["num_train"]} '
        f'train / {data["num_val"]} val images, {data["img_size"]} px, '
        f'seed {args.seed}',
        total_wall_seconds=round(banner.elapsed(), 1),
        smallest=bool(args.smallest))
    out = write_results(rows, work_dir, meta)
    print('\n' + format_results(rows))
    print(f'[demo-all] done in {banner.elapsed() / 60:.1f} min; results: '
          f'{out["md"]}, {out["json"]}', flush=True)
    return dict(rows=rows, meta=meta, paths=out)


if __name__ == '__main__':
    main()
