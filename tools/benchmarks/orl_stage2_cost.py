# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage-2 cost per image, measured side by side in one run.

* selective search (OpenCV-contrib fast mode, 1 thread) per image;
* RoI matching with per-image embedding cache (``run_correspondence``) vs
  the official recompute-every-time algorithm (``correspondence_reference``)
  on the same images, proposals, kNN and stage-1 model: wall time, number of
  RoI forwards, and a check that both give identical pairs.

Images are generated (coloured shapes on gradients plus noise, default
300 x 400), so box counts are lower than on COCO photos. The kNN lists are
random (the cost does not depend on which images are neighbours). The model
is a randomly initialised BYOL ResNet (stage-1 architecture); RoI crops are
224 x 224 as in ORL.

Example::

    python tools/benchmarks/orl_stage2_cost.py --num-images 8 --k 3 --depth 50
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch


def make_images(root, n, h, w, seed=0):
    import cv2
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([xx * 255 // w, yy * 255 // h,
                        np.full_like(xx, 37 * i % 256)], -1).astype(np.uint8)
        for _ in range(12):
            c = tuple(int(v) for v in rng.integers(0, 255, 3))
            x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
            x1 = int(min(w - 1, x0 + rng.integers(30, w // 2)))
            y1 = int(min(h - 1, y0 + rng.integers(30, h // 2)))
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0, y0), (x1, y1), c, -1)
            else:
                cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2),
                            ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, c,
                            -1)
        img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(
            np.uint8)
        name = f'{i:04d}.jpg'
        cv2.imwrite(osp.join(root, name), img)
        names.append(name)
    return names


def build_model(depth):
    import mmscrl  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmscrl.registry import MODELS
    init_default_scope('mmscrl')
    ch = 2048 if depth >= 50 else 512
    model = MODELS.build(dict(
        type='BYOL', base_momentum=0.01,
        backbone=dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN')),
        neck=dict(type='NonLinearNeck', in_channels=ch, hid_channels=256,
                  out_channels=256, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=256,
                                 hid_channels=256, out_channels=256,
                                 norm_cfg=dict(type='BN1d')))))
    return model.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--num-images', type=int, default=8)
    p.add_argument('--height', type=int, default=300)
    p.add_argument('--width', type=int, default=400)
    p.add_argument('--k', type=int, default=3,
                   help='neighbours per image (ORL: 10)')
    p.add_argument('--depth', type=int, default=50, help='ResNet depth')
    p.add_argument('--patch-size', type=int, default=224)
    p.add_argument('--min-size', type=float, default=96)
    p.add_argument('--threads', type=int, default=2, help='torch threads')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import cv2
    cv2.setNumThreads(1)
    from PIL import Image

    from mmscrl.orl.correspondence import (correspondence_reference,
                                           run_correspondence)
    from mmscrl.orl.features import (crop_rois, filter_image_boxes,
                                     roi_embeddings)
    from mmscrl.orl.selective_search import (image_seed, load_rgb,
                                             selective_search)

    tmp = tempfile.mkdtemp(prefix='orl_stage2_cost_')
    n, k = args.num_images, min(args.k, args.num_images - 1)
    names = make_images(tmp, n, args.height, args.width)

    # ---- selective search ------------------------------------------------
    raw, ss_t = [], []
    for name in names:
        img = load_rgb(osp.join(tmp, name))
        t = time.perf_counter()
        raw.append(selective_search(img, seed=image_seed(name)))
        ss_t.append(time.perf_counter() - t)
    filt = dict(min_size=args.min_size, max_ratio=3, max_iou=0.5, topN=100)
    sizes = np.array([len(filter_image_boxes(r, (args.width, args.height),
                                             **filt)) for r in raw])
    print(f'images: {n} x {args.height}x{args.width} (generated), '
          f'OpenCV {cv2.__version__}, torch threads {args.threads}')
    print(f'selective search (fast, 1 thread): {np.mean(ss_t):.3f} s/image '
          f'(min {np.min(ss_t):.3f}, max {np.max(ss_t):.3f}); raw boxes/image '
          f'{np.mean([len(r) for r in raw]):.0f}; after ORL filter '
          f'{sizes.mean():.1f} (min {sizes.min()}, max {sizes.max()})')

    # ---- RoI matching: cached vs recompute --------------------------------
    rng = np.random.default_rng(0)
    knn = np.stack([rng.permutation([j for j in range(n) if j != i])[:k]
                    for i in range(n)])
    model = build_model(args.depth)

    def image_rois(i):
        img = Image.open(osp.join(tmp, names[i])).convert('RGB')
        boxes = filter_image_boxes(raw[i], img.size, **filt)
        return boxes, crop_rois(img, boxes, args.patch_size)

    t = time.perf_counter()
    ref, ref_fw = correspondence_reference(
        names, knn, image_rois, lambda c: roi_embeddings(model.backbone, c))
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    corr, counters = run_correspondence(
        model, tmp, names, raw, knn, osp.join(tmp, 'corr.npz'),
        osp.join(tmp, 'work'), filter_cfg=filt, patch_size=args.patch_size,
        num_workers=0, progress_interval=1e9)
    t_cached = time.perf_counter() - t
    same = all(np.array_equal(a, b) for ra, rb in zip(ref.pairs, corr.pairs)
               for a, b in zip(ra, rb))
    fw = counters['roi_forwards']
    print(f'RoI matching, ResNet-{args.depth} at {args.patch_size}px, k={k}:')
    print(f'  recompute (official): {t_ref:.1f} s, {ref_fw} RoI forwards, '
          f'{t_ref / n:.2f} s/image')
    print(f'  cached (ours):        {t_cached:.1f} s, {fw} RoI forwards, '
          f'{t_cached / n:.2f} s/image')
    print(f'  ratio recompute/cached: time {t_ref / t_cached:.2f}x, '
          f'forwards {ref_fw / fw:.2f}x; identical pairs: {same}')
    print(f'  per RoI forward (cached run): {t_cached / fw * 1000:.1f} ms')
    # with k neighbours the recompute does B_i + sum_j B_knn(i,j) forwards
    # per query vs B_i cached: on average 1 + k (11x for ORL's k = 10)
    exp = (sizes.sum() + sizes[knn].sum()) / sizes.sum()
    print(f'  expected forward ratio from the box counts: {exp:.2f}x '
          f'(1 + k on average; ORL k=10 -> ~11x)')
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
