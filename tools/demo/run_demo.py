# Copyright (c) mmscrl contributors. All rights reserved.
"""The demo job: SCRL pre-training -> detection transfer, no download.

    .venv/bin/python tools/demo/run_demo.py [--pretrain-config CFG]
        [--pretrain-iters N] [--det-iters N] [--data-root data/demo]
        [--work-dir work_dirs/demo] [--data-version 3] [--smallest]

1. generate the synthetic demo data (``data/demo``) unless present;
2. pre-train SCRL (ResNet-18, small images) on the unlabeled images;
3. train the demo Faster R-CNN R18-FPN on the labeled split with the
   pre-trained backbone, and 4. the same detector from random init (with
   ``--jobs 2``, the default on a machine with 2 or more CPU cores, the two
   detectors train at the same time, each with half the cores: more
   throughput than one after the other on 2 cores);
then print ``init | bbox AP | AP50`` and write
``<work-dir>/results.{md,json}``.

The defaults took 14 minutes on 2 CPU cores (measured from a fresh clone,
after a 1.6 minute set-up). Finished stages are
reused when the job is run again with the same settings, and a stage that
was interrupted (Ctrl-C, a kill) resumes from its last checkpoint (pass
``--force`` to start over). ``--smallest`` is the CI setting (a couple of
minutes: tiny data, a few iterations, numbers meaningless). The building
blocks are in ``demo_workflow.py`` next to this script.
"""
import os
import os.path as osp
import sys

from mmscrl.demo.generator import GENERATOR_VERSION, GENERATOR_VERSIONS
from mmscrl.utils.cli import make_parser

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))

# the ~14 min setting on 2 CPU cores (README's first command)
DEFAULTS = dict(
    pretrain_config='configs/demo/scrl_resnet18_1xb32-coslr-500i_demo.py',
    det_config='configs/demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py',
    num_unlabeled=1000,
    num_train=400,
    num_val=100,
    img_size=128,
    pretrain_iters=None,  # the config's
    det_iters=None,  # the config's
    workers=2,
)
# CI: finishes in about a minute or two; the AP values mean nothing
SMALLEST = dict(
    num_unlabeled=32,
    num_train=16,
    num_val=8,
    img_size=96,
    pretrain_iters=4,
    det_iters=4,
    workers=0,
    pretrain_batch=8,
)


def unset(key, what):
    """Help of an option whose omitted value comes from :data:`DEFAULTS` /
    :data:`SMALLEST`, so the text cannot drift from the tables."""
    dflt = DEFAULTS.get(key)
    dflt = "the config's" if dflt is None else dflt
    small = SMALLEST.get(key)
    small = '' if small is None else f', {small} with --smallest'
    return f'{what} (if omitted: {dflt}{small})'


def add_run_arguments(p, work_dir):
    """The options ``run_demo.py`` and ``run_all_demos.py`` share."""
    p.add_argument('--data-root', default='data/demo',
                   help='demo data set folder (generated unless present)')
    p.add_argument('--data-version', type=int, default=GENERATOR_VERSION,
                   choices=sorted(GENERATOR_VERSIONS),
                   help='demo data generator version (a data set of another '
                   'version in --data-root is replaced): ' + '; '.join(
                       f'{k}: {v}' for k, v in GENERATOR_VERSIONS.items()) +
                   '; the README\'s numbers are version 3')
    p.add_argument('--work-dir', default=work_dir,
                   help='folder of the stages and results.{md,json}')
    p.add_argument('--pretrain-iters', type=int, default=None,
                   help=unset('pretrain_iters', 'pre-training iterations'))
    p.add_argument('--pretrain-batch', type=int, default=None,
                   help=unset('pretrain_batch', 'pre-training batch size'))
    p.add_argument('--det-iters', type=int, default=None,
                   help=unset('det_iters', 'detector training iterations'))
    p.add_argument('--workers', type=int, default=None,
                   help=unset('workers', 'dataloader workers per loader'))
    p.add_argument('--skip-random', action='store_true',
                   help='do not train the random-init baseline')


def parse_args(argv=None):
    p = make_parser('Pre-train on the demo data, transfer to detection.')
    p.add_argument('--pretrain-config', default=None,
                   help=unset('pretrain_config', 'pre-training config'))
    p.add_argument('--det-config', default=None,
                   help=unset('det_config', 'detector config'))
    p.add_argument('--name', default=None,
                   help='row label of the pre-trained detector (if omitted: '
                   'the pre-training config\'s model type)')
    add_run_arguments(p, 'work_dirs/demo')
    p.add_argument('--num-unlabeled', type=int, default=None,
                   help=unset('num_unlabeled', 'unlabelled images'))
    p.add_argument('--num-train', type=int, default=None,
                   help=unset('num_train', 'labelled training images'))
    p.add_argument('--num-val', type=int, default=None,
                   help=unset('num_val', 'labelled validation images'))
    p.add_argument('--img-size', type=int, default=None,
                   help=unset('img_size', 'image side in pixels'))
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the demo data and of every training run')
    p.add_argument('--smallest', action='store_true',
                   help='tiny CI setting (meaningless numbers)')
    p.add_argument('--jobs', type=int, default=None, choices=[1, 2],
                   help='detectors trained at a time, each with '
                   'OMP_NUM_THREADS = cores // jobs (if omitted: 2 on a '
                   'machine with 2 or more CPU cores, else 1); with 2 their '
                   'logs interleave on the terminal (each run also has its '
                   'own log in its work dir) and their wall times overlap')
    p.add_argument('--force', action='store_true',
                   help='delete the stages and results in the work dir '
                   'first (no reuse); only files the demo recorded as its '
                   'own are deleted: anything else makes it refuse')
    return p.parse_args(argv)


def resolve(args):
    """Fill unset arguments from SMALLEST (if --smallest) then DEFAULTS."""
    table = dict(DEFAULTS)
    if args.smallest:
        table.update(SMALLEST)
    out = {}
    for key in ('pretrain_config', 'det_config', 'num_unlabeled', 'num_train',
                'num_val', 'img_size', 'pretrain_iters', 'det_iters',
                'workers', 'pretrain_batch'):
        val = getattr(args, key, None)
        out[key] = table.get(key) if val is None else val
    for key in ('pretrain_config', 'det_config'):
        if not osp.isabs(out[key]):
            out[key] = osp.join(REPO_ROOT, out[key])
        if not osp.isfile(out[key]):
            raise FileNotFoundError(f'--{key.replace("_", "-")}: '
                                    f'{out[key]} does not exist')
    return out


def main(argv=None):
    args = parse_args(argv)
    opts = resolve(args)
    sys.path.insert(0, HERE)
    from demo_workflow import work_dir_folder

    work_dir = osp.abspath(args.work_dir)
    # one demo job per work dir: a second one is refused, naming the pid
    with work_dir_folder(work_dir).lock(timeout=0):
        return _main(args, opts, work_dir)


def _main(args, opts, work_dir):
    from demo_workflow import (Banner, detector_env, format_results,
                               omp_threads, pretrain_config,
                               remove_demo_work_dir, run_detector, run_train,
                               write_results)
    from mmengine.config import Config

    import mmscrl  # noqa: F401
    from mmscrl.demo import ensure_demo_dataset

    os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
    if args.force:
        remove_demo_work_dir(work_dir, locked=True)
    n_det = 1 if args.skip_random else 2
    cores = omp_threads()
    jobs = min(n_det, args.jobs or (2 if cores >= 2 else 1))
    banner = Banner(total=2 + (1 if jobs > 1 else n_det))

    banner('demo data')
    ensure_demo_dataset(
        args.data_root,
        num_unlabeled=opts['num_unlabeled'],
        num_train=opts['num_train'],
        num_val=opts['num_val'],
        img_size=opts['img_size'],
        seed=args.seed,
        version=args.data_version)

    name = args.name or Config.fromfile(opts['pretrain_config']).model.type
    banner(f'pre-train {name} on {opts["num_unlabeled"]} unlabeled images '
           f'({osp.relpath(opts["pretrain_config"], REPO_ROOT)})')
    cfg = pretrain_config(
        opts['pretrain_config'],
        args.data_root,
        opts['pretrain_iters'],
        batch_size=opts['pretrain_batch'],
        num_workers=opts['workers'],
        seed=args.seed)
    settings = dict(
        config=opts['pretrain_config'],
        data_root=osp.abspath(args.data_root),
        data=[opts[k] for k in ('num_unlabeled', 'img_size')] +
        [args.data_version],
        max_iters=cfg.train_cfg.max_iters,
        batch=cfg.train_dataloader.batch_size,
        seed=args.seed)
    pre = run_train(cfg, osp.join(work_dir, 'pretrain'), settings,
                    banner=banner)
    if not pre.get('checkpoint') or not osp.isfile(pre['checkpoint']):
        raise FileNotFoundError(
            f'pre-training in {pre["work_dir"]} left no checkpoint')

    runs = [(name, pre['checkpoint'])]
    if not args.skip_random:
        runs.append(('random init', None))
    extra_env = detector_env(jobs)

    def train_detector(run):
        label, ckpt = run
        sub = 'det_random' if ckpt is None else 'det_pretrained'
        det = run_detector(
            opts['det_config'],
            osp.join(work_dir, sub),
            args.data_root,
            opts['det_iters'],
            ckpt,
            seed=args.seed,
            num_workers=opts['workers'],
            banner=banner,
            extra_env=extra_env)
        return dict(
            init=label,
            bbox_mAP=det['bbox_mAP'],
            bbox_mAP_50=det['bbox_mAP_50'],
            pretrain_seconds=pre['seconds'] if ckpt else None,
            detector_seconds=det['seconds'],
            pretrain_checkpoint=ckpt,
            work_dir=det['work_dir'],
            reused=bool(det.get('reused')))

    what = (f'on {opts["num_train"]} labeled images, eval on '
            f'{opts["num_val"]}')
    if jobs == 1:
        rows = []
        for run in runs:
            banner(f'detector ({run[0]}) {what}')
            rows.append(train_detector(run))
    else:
        banner(f'detectors ({", ".join(r[0] for r in runs)}) {what}: '
               f'{jobs} at a time, OMP_NUM_THREADS='
               f'{extra_env["OMP_NUM_THREADS"]} each (their logs '
               'interleave; each has its own in its work dir)')
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(jobs) as pool:
            rows = list(pool.map(train_detector, runs))
    overlap = jobs > 1 and sum(not r['reused'] for r in rows) > 1
    for r in rows:
        del r['reused']

    meta = dict(
        pretrain_config=osp.relpath(opts['pretrain_config'], REPO_ROOT),
        det_config=osp.relpath(opts['det_config'], REPO_ROOT),
        data=f'{opts["num_unlabeled"]} unlabeled / {opts["num_train"]} '
        f'train / {opts["num_val"]} val images, {opts["img_size"]} px, '
        f'seed {args.seed}, data version {args.data_version}',
        total_wall_seconds=round(banner.elapsed(), 1),
        detector_jobs=jobs,
        smallest=bool(args.smallest))
    table = format_results(rows)
    if overlap:
        table += (f'\n\nDetector wall times: the {len(rows)} detectors '
                  f'trained at the same time (--jobs {jobs}), each with '
                  f'OMP_NUM_THREADS={extra_env["OMP_NUM_THREADS"]}: not '
                  'times of one run alone.')
    paths = write_results(rows, work_dir, meta, table=table)
    print('\n' + table)
    m, s = divmod(int(banner.elapsed()), 60)
    print(f'[demo] done in {m}m{s:02d}s; results: {paths["md"]}, '
          f'{paths["json"]}', flush=True)
    return dict(rows=rows, meta=meta, paths=paths)


if __name__ == '__main__':
    main()
