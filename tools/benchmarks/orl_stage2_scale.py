# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage 2 at COCO scale: measured per-image costs, extrapolated.

Measured side by side in one process, on the same images:

* **selective search** (OpenCV-contrib fast mode, one thread): our
  ``run_selective_search`` (per-image C-RNG seeding, chunk files, merge)
  against a straightforward per-image loop (PIL -> BGR -> OpenCV, the
  official algorithm), interleaved repeats, images/s per core; raw boxes per
  image and proposal file bytes per image;
* **image kNN**: feature extraction s/image (stage-1 ResNet, Resize/
  CenterCrop) and the blocked kNN search against a COCO-sized random bank
  (118287 x 256) for a slice of queries, extrapolated to all queries;
* **RoI pairs**: our cached ``run_correspondence`` against the official
  recompute-every-time algorithm (wall time, RoI forwards, identical pairs),
  the embedding cache in float32 vs float16 (bytes per image, and how many
  pairs differ), pass-2 pair mining s/image, output bytes per image.

It then prints the extrapolation to COCO train2017 (118287 images) on
``--procs`` processes (CPU; GPU forwards are not measured here). Images are
COCO-sized (480 x 640) random crops, flips and colour changes of the photo
bundled with matplotlib (``grace_hopper.jpg``), so box counts are those of
a real photo, not of COCO's variety; the stage-1 model is a randomly
initialised BYOL ResNet (the cost does not depend on the weights).

Example::

    python tools/benchmarks/orl_stage2_scale.py            # ResNet-50, 224
    python tools/benchmarks/orl_stage2_scale.py --quick    # seconds, smoke

``main(argv)`` returns the results as a dict (used by the benchmark suite).
"""
import json
import os
import os.path as osp
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

from mmscrl.utils.cli import make_parser

COCO_TRAIN2017 = 118287


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
def make_photo_images(root: str, n: int, h: int, w: int, seed: int = 0):
    """``n`` h x w JPEGs cut from matplotlib's sample photo."""
    import cv2
    import matplotlib
    src = cv2.imread(osp.join(matplotlib.get_data_path(), 'sample_data',
                              'grace_hopper.jpg'))
    rng = np.random.default_rng(seed)
    sh, sw = src.shape[:2]
    names = []
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        s = rng.uniform(0.4, 1.0)
        ch, cw = int(sh * s), int(sw * s)
        y = int(rng.integers(0, sh - ch + 1))
        x = int(rng.integers(0, sw - cw + 1))
        img = cv2.resize(src[y:y + ch, x:x + cw], (w, h),
                         interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        gain = rng.uniform(0.7, 1.3, 3)
        img = np.clip(img * gain, 0, 255).astype(np.uint8)
        name = f'{i:05d}.jpg'
        cv2.imwrite(osp.join(root, name), img)
        names.append(name)
    return names


def build_model(depth: int, proj: int = 256):
    from mmengine.registry import init_default_scope

    import mmscrl  # noqa: F401
    from mmscrl.registry import MODELS
    init_default_scope('mmscrl')
    ch = 2048 if depth >= 50 else 512
    model = MODELS.build(dict(
        type='BYOL', base_momentum=0.01,
        backbone=dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN')),
        neck=dict(type='NonLinearNeck', in_channels=ch, hid_channels=proj,
                  out_channels=proj, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=proj,
                                 hid_channels=proj, out_channels=proj,
                                 norm_cfg=dict(type='BN1d')))))
    return model.eval()


def _dir_bytes(folder: str, suffix: str = '', prefix: str = '') -> int:
    return sum(
        osp.getsize(osp.join(folder, f)) for f in os.listdir(folder)
        if f.endswith(suffix) and f.startswith(prefix))


# --------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------
def plain_selective_search_loop(data_root: str, names):
    """The straightforward per-image loop (official algorithm, no seeding,
    no chunk files): returns the raw boxes."""
    import cv2
    from PIL import Image
    out = []
    for name in names:
        with Image.open(osp.join(data_root, name)) as img:
            rgb = np.array(img.convert('RGB'))
        ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
        ss.setBaseImage(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        ss.switchToSelectiveSearchFast()
        out.append(ss.process())
    return out


def bench_selective_search(tmp: str, data: str, names, repeats: int):
    import cv2

    from mmscrl.orl.io import load_proposals
    from mmscrl.orl.selective_search import run_selective_search
    cv2.setNumThreads(1)
    plain_selective_search_loop(data, names[:1])  # warm-up (imports, init)
    t_plain, t_ours = [], []
    for r in range(repeats):  # interleaved
        t = time.perf_counter()
        plain = plain_selective_search_loop(data, names)
        t_plain.append(time.perf_counter() - t)
        out = osp.join(tmp, f'ss_{r}.npz')
        work = osp.join(tmp, f'ss_{r}.parts')
        t = time.perf_counter()
        run_selective_search(data, names, out, work, workers=1,
                             chunk_size=max(1, len(names) // 4),
                             progress_interval=1e9)
        t_ours.append(time.perf_counter() - t)
    props = load_proposals(out)
    n = len(names)
    return dict(
        images=n,
        # the fastest repeat: least disturbed by other load on the machine
        plain_img_per_s=n / min(t_plain),
        ours_img_per_s=n / min(t_ours),
        ratio_ours_over_plain=statistics.median(t_ours) /
        statistics.median(t_plain),
        min_ratio_ours_over_plain=min(t_ours) / min(t_plain),
        plain_s=t_plain, ours_s=t_ours,
        raw_boxes_per_image=float(np.mean([len(b) for b in props.boxes])),
        plain_raw_boxes_per_image=float(np.mean([len(b) for b in plain])),
        proposals_bytes_per_image=osp.getsize(out) / n,
        chunk_bytes_per_image=_dir_bytes(work) / n), props


def bench_knn(tmp, data, names, model, args):
    import torch

    from mmscrl.orl.image_knn import run_image_knn
    from mmscrl.orl.knn import knn_search
    n = len(names)
    work = osp.join(tmp, 'knn.parts')
    out = osp.join(tmp, 'knn.npz')
    k = min(args.k, n - 1)
    t = time.perf_counter()
    run_image_knn(model, data, names, out, work, k=k, resize=args.resize,
                  crop=args.crop, batch_size=8, num_workers=0,
                  progress_interval=1e9)
    t_feat_total = time.perf_counter() - t
    # search at COCO size: a slice of queries against the full bank
    dim = np.load(osp.join(work, sorted(
        f for f in os.listdir(work) if f.startswith('feat'))[0]))['feats']
    bank = torch.nn.functional.normalize(
        torch.randn(args.bank_size, dim.shape[1]), dim=1)
    q = args.search_queries
    t = time.perf_counter()
    knn_search(bank[:q], bank, args.k, query_offset=0)
    t_search = time.perf_counter() - t
    return dict(
        feature_s_per_image=t_feat_total / n,
        search_bank=args.bank_size, search_queries=q,
        search_s_per_query=t_search / q,
        search_full_s=t_search / q * args.bank_size *
        (COCO_TRAIN2017 / args.bank_size)**2,
        feature_bytes_per_image=_dir_bytes(work, prefix='feat') / n,
        knn_bytes_per_image=osp.getsize(out) / n), out


def time_pair_mining(work: str, n: int, knn: np.ndarray) -> float:
    """Seconds of pass 2's per-image work (read the cached embeddings of a
    query and its neighbours, similarities, top pairs) for all n images,
    without the run's fixed costs (hashing the model, merging, saving)."""
    from mmscrl.orl.correspondence import _EmbeddingStore, mine_pairs
    from mmscrl.orl.jobs import ChunkedJob
    first = sorted(f for f in os.listdir(work) if f.startswith('emb_')
                   and f.endswith('.npz'))[0]
    with np.load(osp.join(work, first)) as z:
        fp = json.loads(str(z['chunk_fingerprint']))
        size = int(z['end']) - int(z['start'])
    store = _EmbeddingStore(
        ChunkedJob(work, 'emb', n, size, fp, side_suffixes=('.npy', )))
    t = time.perf_counter()
    for i in range(n):
        bq, fq = store.get(i)
        ks = [store.get(int(j)) for j in knn[i]]
        mine_pairs(bq, fq, [x[0] for x in ks], [x[1] for x in ks], 0.1)
    return time.perf_counter() - t


def bench_correspondence(tmp, data, names, model, props, knn_file, args):
    from PIL import Image

    from mmscrl.orl.correspondence import (correspondence_reference,
                                           run_correspondence)
    from mmscrl.orl.features import (crop_rois, filter_image_boxes,
                                     roi_embeddings)
    from mmscrl.orl.io import load_knn
    n = len(names)
    knn = load_knn(knn_file).knn
    filt = dict(min_size=args.min_size, max_ratio=3, max_iou=0.5, topN=100)
    runs = {}
    for dtype in ('float32', 'float16'):
        work = osp.join(tmp, f'corr_{dtype}.parts')
        out = osp.join(tmp, f'corr_{dtype}.npz')
        t = time.perf_counter()
        corr, counters = run_correspondence(
            model, data, names, props.boxes, knn, out, work,
            filter_cfg=filt, patch_size=args.patch_size, num_workers=0,
            emb_dtype=dtype, progress_interval=1e9)
        total = time.perf_counter() - t
        pass2 = time_pair_mining(work, n, knn)
        runs[dtype] = dict(corr=corr, total=total, pass2=pass2,
                           forwards=counters['roi_forwards'],
                           cache=_dir_bytes(work, '.npy'),
                           out=osp.getsize(out))
    a, b = runs['float32']['corr'], runs['float16']['corr']
    slots = same_slots = pairs = same_pairs = 0
    for i in range(n):
        for pa, pb in zip(a.pairs[i], b.pairs[i]):
            slots += 1
            same_slots += bool(np.array_equal(pa, pb))
            pairs += len(pa)
            sb = {tuple(p) for p in pb}
            same_pairs += sum(tuple(p) in sb for p in pa)
    boxes = np.array([len(x) for x in a.boxes])

    def image_rois(i):
        img = Image.open(osp.join(data, names[i])).convert('RGB')
        bx = filter_image_boxes(props.boxes[i], img.size, **filt)
        return bx, crop_rois(img, bx, args.patch_size)

    res = dict(
        filtered_boxes_per_image=float(boxes.mean()),
        roi_forwards_cached=runs['float32']['forwards'],
        cached_s_per_image=runs['float32']['total'] / n,
        pass2_s_per_image=runs['float16']['pass2'] / n,
        cache_bytes_per_image_fp32=runs['float32']['cache'] / n,
        cache_bytes_per_image_fp16=runs['float16']['cache'] / n,
        output_bytes_per_image=runs['float16']['out'] / n,
        fp16_identical_slots=same_slots / max(slots, 1),
        fp16_identical_pairs=same_pairs / max(pairs, 1))
    if not args.skip_reference:
        t = time.perf_counter()
        ref, ref_fw = correspondence_reference(
            names, knn, image_rois,
            lambda c: roi_embeddings(model.backbone, c))
        t_ref = time.perf_counter() - t
        res.update(
            reference_s_per_image=t_ref / n, roi_forwards_reference=ref_fw,
            reference_identical_to_cached_fp32=all(
                np.array_equal(x, y) for ra, rb in zip(ref.pairs, a.pairs)
                for x, y in zip(ra, rb)))
    return res


def extrapolate(res: dict, procs, n: int = COCO_TRAIN2017, k: int = 10):
    """Full-COCO wall time (hours) and disk (GB) on P processes."""
    ss, kn, co = res['selective_search'], res['knn'], res['correspondence']
    rows = []
    for p in procs:
        rows.append(dict(
            procs=p,
            selective_search_h=n / ss['ours_img_per_s'] / p / 3600,
            knn_features_h=n * kn['feature_s_per_image'] / p / 3600,
            knn_search_h=kn['search_full_s'] / p / 3600,
            roi_embeddings_h=n * (co['cached_s_per_image'] -
                                  co['pass2_s_per_image']) / p / 3600,
            roi_pairs_h=n * co['pass2_s_per_image'] * k /
            max(res['k'], 1) / p / 3600))
    disk = dict(
        proposals_gb=n * ss['proposals_bytes_per_image'] / 1e9,
        ss_chunks_gb=n * ss['chunk_bytes_per_image'] / 1e9,
        knn_features_gb=n * kn['feature_bytes_per_image'] / 1e9,
        embedding_cache_fp32_gb=n * co['cache_bytes_per_image_fp32'] / 1e9,
        embedding_cache_fp16_gb=n * co['cache_bytes_per_image_fp16'] / 1e9,
        correspondence_gb=n * co['output_bytes_per_image'] * k /
        max(res['k'], 1) / 1e9)
    return rows, disk


def markdown(res: dict) -> str:
    ss, kn, co = res['selective_search'], res['knn'], res['correspondence']
    lines = [
        f"Measured on {res['images']} images {res['height']}x"
        f"{res['width']} (photo crops), ResNet-{res['depth']}, crops "
        f"{res['patch_size']} px, k={res['k']}, torch threads "
        f"{res['threads']}, {res['cpu']}, load average "
        f"{res['load_avg_start']} -> {res['load_avg_end']}.",
        '',
        '| measurement | value |', '|---|---|',
        f"| selective search, plain per-image loop (fastest repeat) | "
        f"{ss['plain_img_per_s']:.2f} img/s per core |",
        f"| selective search, ours (seeded, chunked) | "
        f"{ss['ours_img_per_s']:.2f} img/s per core "
        f"(time ratio to the loop: fastest repeats "
        f"{ss['min_ratio_ours_over_plain']:.2f}x, medians "
        f"{ss['ratio_ours_over_plain']:.2f}x) |",
        f"| raw boxes / image | {ss['raw_boxes_per_image']:.0f} |",
        f"| proposals file / image | "
        f"{ss['proposals_bytes_per_image'] / 1e3:.1f} kB |",
        f"| kNN features | {kn['feature_s_per_image'] * 1e3:.0f} ms/image |",
        f"| kNN search ({kn['search_bank']} bank) | "
        f"{kn['search_s_per_query'] * 1e3:.2f} ms/query |",
        f"| filtered boxes / image | {co['filtered_boxes_per_image']:.1f} |",
        f"| RoI pairs, cached (both passes) | "
        f"{co['cached_s_per_image']:.2f} s/image |",
        f"| RoI pairs, pass 2 only (mining) | "
        f"{co['pass2_s_per_image'] * 1e3:.1f} ms/image |",
    ]
    if 'reference_s_per_image' in co:
        lines.append(
            f"| RoI pairs, official recompute | "
            f"{co['reference_s_per_image']:.2f} s/image, "
            f"{co['roi_forwards_reference']} vs "
            f"{co['roi_forwards_cached']} RoI forwards, identical pairs: "
            f"{co['reference_identical_to_cached_fp32']} |")
    lines += [
        f"| embedding cache / image fp32 -> fp16 | "
        f"{co['cache_bytes_per_image_fp32'] / 1e3:.0f} kB -> "
        f"{co['cache_bytes_per_image_fp16'] / 1e3:.0f} kB |",
        f"| fp16 cache: identical (image, kNN) slots / pairs | "
        f"{co['fp16_identical_slots']:.1%} / "
        f"{co['fp16_identical_pairs']:.1%} |",
        '', f'Extrapolated to COCO train2017 ({COCO_TRAIN2017} images, '
        'k=10), hours of wall time on P CPU processes:', '',
        '| P | selective search | kNN features | kNN search | RoI '
        'embeddings | RoI pairs |', '|---|---|---|---|---|---|'
    ]
    for r in res['extrapolation']:
        lines.append(
            f"| {r['procs']} | {r['selective_search_h']:.2f} | "
            f"{r['knn_features_h']:.2f} | {r['knn_search_h']:.3f} | "
            f"{r['roi_embeddings_h']:.2f} | {r['roi_pairs_h']:.3f} |")
    d = res['disk']
    lines += [
        '', 'Disk for COCO train2017 (GB): ' + ', '.join(
            f'{k[:-3]} {v:.2f}' for k, v in d.items())
    ]
    return '\n'.join(lines)


def parse_args(argv=None):
    p = make_parser(__doc__, full_description=True)
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes (ResNet-18, 4 small images): a smoke '
                   'run of every measurement, numbers not meaningful')
    p.add_argument('--num-images', type=int, default=8,
                   help='images measured')
    p.add_argument('--height', type=int, default=480, help='image height')
    p.add_argument('--width', type=int, default=640, help='image width')
    p.add_argument('--depth', type=int, default=50, help='ResNet depth')
    p.add_argument('--k', type=int, default=3,
                   help='neighbours per image measured (ORL: 10; pair '
                   'mining is scaled to k=10 in the extrapolation)')
    p.add_argument('--resize', type=int, default=256,
                   help='kNN feature resize')
    p.add_argument('--crop', type=int, default=224, help='kNN feature crop')
    p.add_argument('--patch-size', type=int, default=224,
                   help='RoI crop size')
    p.add_argument('--min-size', type=float, default=96,
                   help='box filter minimum side')
    p.add_argument('--bank-size', type=int, default=COCO_TRAIN2017,
                   help='kNN search bank rows (random features)')
    p.add_argument('--search-queries', type=int, default=1024,
                   help='kNN search queries timed')
    p.add_argument('--repeats', type=int, default=3,
                   help='interleaved selective-search repeats (median)')
    p.add_argument('--procs', default='1,16,64',
                   help='process counts of the extrapolation')
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (per process)')
    p.add_argument('--skip-reference', action='store_true',
                   help='do not time the official recompute algorithm')
    p.add_argument('--json', default=None,
                   help='also write the results to this JSON file (if '
                   'omitted: only printed)')
    args = p.parse_args(argv)
    if args.quick:
        args.num_images, args.height, args.width = 4, 96, 128
        args.depth, args.resize, args.crop, args.patch_size = 18, 40, 32, 32
        args.min_size, args.bank_size, args.search_queries = 16, 4096, 128
        args.repeats, args.k = 1, 2
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the same random stage-1 model in every run
    import platform

    import cv2
    tmp = tempfile.mkdtemp(prefix='orl_stage2_scale_')
    try:
        data = osp.join(tmp, 'images')
        names = make_photo_images(data, args.num_images, args.height,
                                  args.width)
        res = dict(images=len(names), height=args.height, width=args.width,
                   depth=args.depth, patch_size=args.patch_size, k=args.k,
                   threads=args.threads, opencv=cv2.__version__,
                   load_avg_start=round(os.getloadavg()[0], 1),
                   cpu=f'{platform.processor() or platform.machine()}, '
                   f'{os.cpu_count()} logical CPUs')
        res['selective_search'], props = bench_selective_search(
            tmp, data, names, args.repeats)
        model = build_model(args.depth)
        res['knn'], knn_file = bench_knn(tmp, data, names, model, args)
        res['correspondence'] = bench_correspondence(
            tmp, data, names, model, props, knn_file, args)
        res['load_avg_end'] = round(os.getloadavg()[0], 1)
        res['extrapolation'], res['disk'] = extrapolate(
            res, [int(p) for p in args.procs.split(',')])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(markdown(res), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
    sys.exit(0)
