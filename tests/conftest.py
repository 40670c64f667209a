# Copyright (c) mmscrl contributors. All rights reserved.
import os
import os.path as osp
import sys

import numpy as np
import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# keep CPU tests predictable on small machines
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope='session')
def python_exe():
    return sys.executable


@pytest.fixture(scope='session')
def random_image_dir(tmp_path_factory):
    """16 random JPEGs under ``<root>/unlabeled/`` (the demo-data layout)."""
    import cv2
    root = tmp_path_factory.mktemp('random_images')
    os.makedirs(root / 'unlabeled')
    rng = np.random.default_rng(0)
    for i in range(16):
        img = rng.integers(0, 255, (80 + 4 * i, 112, 3), dtype=np.uint8)
        cv2.imwrite(str(root / 'unlabeled' / f'{i:03d}.jpg'), img)
    return root


# ------------------------------------------------------- shared helpers ---
# Helpers shared across test folders are fixtures that return a function:
# every conftest.py is imported under the module name ``conftest``, so a
# plain ``from conftest import ...`` would depend on collection order.
def _load_tool(relpath):
    """Import ``tools/<relpath>`` (a script, not a package) as a module.

    Each call executes the file afresh, so state set by one test (parsers,
    module globals) never leaks into another.
    """
    import importlib.util
    path = osp.join(REPO_ROOT, 'tools', relpath)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no tool script {path}')
    name = '_tool_' + relpath[:-3].replace('/', '_').replace('.', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('orl/extract_knn.py')`` -> the script as a module."""
    return _load_tool


def _walk_config(node, fn):
    """Call ``fn(d)`` on every dict inside ``node`` (dicts, lists, tuples,
    mmengine ``ConfigDict``), parents before children."""
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk_config(value, fn)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk_config(value, fn)


@pytest.fixture(scope='session')
def walk_config():
    """``walk_config(node, fn)``: ``fn`` on every dict of a config tree."""
    return _walk_config


def _perturb_weights(module, seed):
    """Non-trivial weights and BN statistics, so equalities mean something:
    every float tensor of ``module.state_dict()`` moves by U(-0.05, 0.05),
    running variances become U(0.5, 1.5)."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype.is_floating_point:
                noise = torch.rand(t.shape, generator=gen)
                if name.endswith('running_var'):
                    t.copy_(0.5 + noise)
                else:
                    t.add_(0.1 * (noise - 0.5))


@pytest.fixture(scope='session')
def perturb_weights():
    """``perturb_weights(module, seed)``: seeded in-place noise."""
    return _perturb_weights


# ---------------------------------------------- ORL stage-2 test inputs ---
def _make_orl_images(root, n=6, size=(96, 128), seed=0):
    """``n`` JPEGs with a few coloured shapes on a smooth background, so
    selective search finds structure; every second one in ``sub/``.
    Returns the sorted relative names."""
    import cv2
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    names = []
    h, w = size
    for i in range(n):
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(xx * 255 // w), (yy * 255 // h),
                        np.full_like(xx, 60 * (i % 4))], -1).astype(np.uint8)
        for _ in range(4):
            c = tuple(int(v) for v in rng.integers(0, 255, 3))
            x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
            x1 = int(min(w - 1, x0 + rng.integers(15, w // 2)))
            y1 = int(min(h - 1, y0 + rng.integers(15, h // 2)))
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0, y0), (x1, y1), c, -1)
            else:
                cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2),
                            ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, c, -1)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(
            np.uint8)
        name = f'sub/{i:03d}.jpg' if i % 2 else f'{i:03d}.jpg'
        os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
        cv2.imwrite(osp.join(root, name), img)
        names.append(name)
    return sorted(names)


def _byol_r18_config():
    """A small BYOL (ResNet-18, BN, 64-d projector) stage-1 config dict."""
    bn1d = dict(type='BN1d')
    return dict(
        default_scope='mmscrl',
        model=dict(
            type='BYOL',
            base_momentum=0.01,
            backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'),
                          zero_init_residual=False),
            neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=128,
                      out_channels=64, num_layers=2, with_bias=True,
                      with_last_bn=False, with_last_bias=False,
                      with_avg_pool=True, norm_cfg=bn1d),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(type='NonLinearNeck', in_channels=64,
                               hid_channels=128, out_channels=64,
                               num_layers=2, with_bias=True,
                               with_last_bn=False, with_avg_pool=False,
                               norm_cfg=bn1d))))


def _write_orl_stage1(tmp_dir, seed=0):
    """Write ``byol_r18_stage1.py`` and ``epoch_1.pth`` (mmengine layout) of
    a randomly initialised BYOL-R18 with non-trivial BN running stats into
    ``tmp_dir``. Returns ``(cfg_path, ckpt_path, model)``."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmscrl  # noqa: F401
    from mmscrl.registry import MODELS
    cfg = Config(_byol_r18_config())
    os.makedirs(tmp_dir, exist_ok=True)
    cfg_path = osp.join(tmp_dir, 'byol_r18_stage1.py')
    cfg.dump(cfg_path)
    init_default_scope('mmscrl')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # make eval-mode BN differ from identity
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ckpt_path = osp.join(tmp_dir, 'epoch_1.pth')
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()},
               ckpt_path)
    return cfg_path, ckpt_path, model


@pytest.fixture(scope='session')
def make_orl_images():
    """``make_orl_images(root, n=6, size=(96, 128), seed=0)`` -> names."""
    return _make_orl_images


@pytest.fixture(scope='session')
def orl_stage2_inputs():
    """``orl_stage2_inputs(root, n, size, seeds=(0,))``: ``n`` images under
    ``root/images`` and one stage-1 BYOL-R18 checkpoint per seed (all share
    one config). Returns a namespace with ``root``, ``data`` (the image
    dir), ``names``, ``cfg`` and ``ckpts`` (one path per seed)."""
    from types import SimpleNamespace

    def make(root, n, size, seeds=(0, )):
        data = osp.join(str(root), 'images')
        names = _make_orl_images(data, n=n, size=size)
        cfg, ckpts = None, []
        for seed in seeds:
            cfg_seed, ckpt, _ = _write_orl_stage1(
                osp.join(str(root), f'stage1_seed{seed}'), seed=seed)
            cfg = cfg or cfg_seed
            ckpts.append(ckpt)
        return SimpleNamespace(root=root, data=data, names=names, cfg=cfg,
                               ckpts=ckpts)

    return make


def _official_orl_json(kind):
    """A valid two-image file (``a.jpg``, ``b.jpg``, each the other's one
    neighbour) in the official ORL stage-2 JSON layout, as a fresh dict;
    ``kind`` is ``'knn'`` or ``'correspondence'`` (adds one box per image
    and one box pair per neighbour)."""
    data = {'images': {'file_name': ['a.jpg', 'b.jpg'], 'id': [0, 1]},
            'pseudo_annotations': {'image_id': [0, 1],
                                   'knn_image_id': [[1], [0]]}}
    if kind == 'correspondence':
        data['info'] = {'knn_image_num': 1}
        data['pseudo_annotations'].update(
            bbox=[[[0, 0, 10, 10]], [[0, 0, 20, 20]]],
            knn_bbox_pair=[[[[0, 0, 10, 10, 0, 0, 20, 20]]],
                           [[[0, 0, 20, 20, 0, 0, 10, 10]]]])
    elif kind != 'knn':
        raise ValueError(f'kind must be knn or correspondence, not {kind!r}')
    return data


@pytest.fixture(scope='session')
def official_orl_json():
    """``official_orl_json(kind)`` -> a valid official ORL JSON dict."""
    return _official_orl_json
