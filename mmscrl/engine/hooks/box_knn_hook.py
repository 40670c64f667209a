# Copyright (c) mmscrl contributors. All rights reserved.
"""``BoxKNNHook``: a localization-aware quality signal during pre-training.

Every ``interval`` training iterations (and after the last one), the online
backbone (``model.backbone``) is run in eval mode on a small labelled
detection set (COCO json + images, loaded once into memory); its feature
map is RoIAligned inside the ground-truth boxes and the boxes are classified
by weighted cosine kNN (k = 20, T = 0.07), as are the images by their
dominant class (see :mod:`mmscrl.evaluation.box_knn`). The accuracies and
the cost of the evaluation go to the visualizer backends (``scalars.json``
with ``step`` = the iteration) and the log.

No other self-supervised code base monitors localisation: they offer
image-level kNN / linear probes only, which need not improve when region
features do (SCRL, DenseCL and ORL all target region features).
"""
import logging
import os.path as osp
import time
from typing import Optional, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmscrl.registry import HOOKS


@HOOKS.register_module()
class BoxKNNHook(Hook):
    """Box-level and image-level kNN accuracy of the backbone, periodically.

    Runs on the main process only (the other ranks go on and wait at the
    next gradient synchronisation); the backbone is called directly, outside
    any DDP wrapper, in eval mode (BN running statistics), and its mode is
    restored. Its files are read and checked at ``before_train``. It runs
    after the ``CheckpointHook`` of the same iteration (priority
    ``VERY_LOW``, registered after the default hooks), so an evaluation
    that raises never costs that iteration's checkpoint.

    Args:
        ann_file (str): COCO-format detection json of the labelled set.
        img_dir (str): Folder of its images.
        data_root (str, optional): Folder that relative ``ann_file``,
            ``img_dir``, ``val_ann_file`` and ``val_img_dir`` are joined to.
            Defaults to None: the ``data_root`` of the runner's training
            dataset (so ``train_dataloader.dataset.data_root``, in a config
            or ``--cfg-options``, moves the labelled set with the images),
            or the paths as given when that dataset has none. ``''`` uses
            the paths as given (relative to the working directory).
        val_ann_file (str, optional): A second labelled set: the first set's
            boxes then vote for this one's (train/val protocol). Defaults to
            None: leave-one-out on the first set, excluding the same image's
            boxes.
        val_img_dir (str, optional): Images of ``val_ann_file``.
        interval (int): Evaluate every ``interval`` training iterations, and
            after the last one. Defaults to 100.
        k (int | Sequence[int]): Neighbours voting. Defaults to 20.
        temperature (float): Vote weight ``exp(cos / T)``. Defaults to 0.07.
        img_size (int): Images are resized to this square side. Defaults to
            128 (the demo images).
        max_images (int): First images (with a box) of each set used, to
            bound the cost. Defaults to 200.
        batch_size (int): Images per forward. Defaults to 32.
        roi_size (int): RoIAlign output side (bins averaged). Defaults to 2.
        stage (int): Backbone output used. Defaults to -1 (the last).
        feature_level (str, optional): ``'c2'``-``'c5'``: RoIAlign this
            ResNet level instead of output ``stage``, whatever the
            backbone's ``out_indices`` (e.g. ``'c4'``, a map twice as fine
            as C5; :class:`mmscrl.evaluation.ResNetLevels`). Defaults to
            None (output ``stage``).
        mean (Sequence[float], optional): RGB mean (0-255); defaults to the
            model's ``data_preprocessor.mean`` or else ImageNet's.
        std (Sequence[float], optional): RGB std, likewise.
        prefix (str): Prefix of the logged keys. Defaults to ``'knn/'``:
            ``knn/box_top1``, ``knn/image_top1`` (first ``k``; every ``k`` as
            ``knn/box_k{k}_top1``), ``knn/seconds`` and ``knn/cost_iters``
            (the evaluation time in mean training iterations).
    """

    # after LoggerHook's record and CheckpointHook's save (both registered
    # before the custom hooks) of the same iteration: an evaluation that
    # raises must not cost the checkpoint
    priority = 'VERY_LOW'

    def __init__(self,
                 ann_file: str,
                 img_dir: str,
                 data_root: Optional[str] = None,
                 val_ann_file: Optional[str] = None,
                 val_img_dir: Optional[str] = None,
                 interval: int = 100,
                 k=20,
                 temperature: float = 0.07,
                 img_size: int = 128,
                 max_images: int = 200,
                 batch_size: int = 32,
                 roi_size: int = 2,
                 stage: int = -1,
                 feature_level: Optional[str] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 prefix: str = 'knn/'):
        if int(interval) < 1:
            raise ValueError(f'BoxKNNHook: interval must be >= 1, got '
                             f'{interval}')
        if (val_ann_file is None) != (val_img_dir is None):
            raise ValueError('BoxKNNHook: give both val_ann_file and '
                             'val_img_dir, or neither')

        self.data_root = data_root
        self._given = (ann_file, img_dir, val_ann_file, val_img_dir)
        self._join(data_root)
        self.interval = int(interval)
        self.ks = tuple(k) if isinstance(k, (list, tuple)) else (int(k), )
        self.temperature = float(temperature)
        self.img_size = int(img_size)
        self.max_images = max_images
        self.batch_size = int(batch_size)
        self.roi_size = int(roi_size)
        self.stage = int(stage)
        if feature_level is not None:
            from mmscrl.evaluation.checkpoint_eval import FEATURE_LEVELS
            if str(feature_level).lower() not in FEATURE_LEVELS:
                raise ValueError(
                    f'BoxKNNHook: feature_level must be one of '
                    f'{", ".join(FEATURE_LEVELS)} or None, got '
                    f'{feature_level!r}')
            if self.stage != -1:
                raise ValueError('BoxKNNHook: give feature_level or stage, '
                                 'not both')
            feature_level = str(feature_level).lower()
        self.feature_level = feature_level
        self.mean, self.std = mean, std
        self.prefix = prefix
        self._sets = None
        self._last_iter = None
        self.history = []

    def _join(self, data_root: Optional[str]) -> None:
        """Set ``ann_file``, ``img_dir``, ``val_ann_file`` and
        ``val_img_dir``: the given paths, relative ones joined to
        ``data_root`` (when not None)."""

        def join(path):
            if path is None or data_root is None or osp.isabs(path):
                return path
            return osp.join(data_root, path)

        (self.ann_file, self.img_dir, self.val_ann_file,
         self.val_img_dir) = (join(p) for p in self._given)

    @staticmethod
    def train_data_root(runner) -> Optional[str]:
        """The ``data_root`` of the runner's training dataset (looked up
        through dataset wrappers), or None."""
        loader = getattr(runner, '_train_dataloader', None)
        for node in (loader, getattr(runner, 'cfg', None) and
                     runner.cfg.get('train_dataloader', None)):
            for _ in range(8):  # dataset -> wrapped dataset -> ...
                if node is None:
                    break
                if isinstance(node, dict):
                    root, node = node.get('data_root'), node.get('dataset')
                else:
                    root = getattr(node, 'data_root', None)
                    node = getattr(node, 'dataset', None)
                if isinstance(root, str) and root:
                    return root
        return None

    def _resolve(self, runner) -> None:
        """With ``data_root=None``, join relative paths to the training
        dataset's ``data_root`` (logged)."""
        if self.data_root is not None or all(
                p is None or osp.isabs(p) for p in self._given):
            return
        root = self.train_data_root(runner)
        if root is not None:
            self._join(root)
            print_log(
                f'BoxKNNHook: labelled set under the training data_root '
                f'{root!r}: {self.ann_file}'
                + (f', {self.val_ann_file}' if self.val_ann_file else ''),
                logger='current')

    def _load(self):
        from mmscrl.evaluation.checkpoint_eval import load_detection_set
        return [
            None if ann is None else load_detection_set(
                ann, img_dir, self.img_size, self.max_images)
            for ann, img_dir in ((self.ann_file, self.img_dir),
                                 (self.val_ann_file, self.val_img_dir))
        ]

    def before_train(self, runner) -> None:
        """Load the labelled set(s) now, so that a missing, unreadable or
        box-less annotation file (or a missing image) stops the run before
        its first iteration instead of at the first evaluation.

        Runs on the main process, which alone evaluates; the sets stay in
        memory for the evaluations.

        Args:
            runner (Runner): The runner of the training.

        Raises:
            FileNotFoundError: An annotation file or an image is missing
                (named in the message).
            ValueError: An annotation file is not COCO JSON, holds a
                malformed annotation or no image with a box (named).
        """
        if self._sets is None and is_main_process():
            self._resolve(runner)
            try:
                self._sets = self._load()
            except (FileNotFoundError, ValueError):
                print_log(
                    'BoxKNNHook (custom_hooks) cannot read its labelled set '
                    f'({self.ann_file}, images in {self.img_dir}): give its '
                    'data_root / ann_file / img_dir a labelled COCO-format '
                    'set, or remove it from custom_hooks to train without '
                    'it.', logger='current', level=logging.ERROR)
                raise
            n = [0 if s is None else len(s['imgs']) for s in self._sets]
            print_log(
                f'BoxKNNHook: {n[0]} labelled images of {self.ann_file}'
                + (f', {n[1]} of {self.val_ann_file}' if self._sets[1]
                   else ' (leave-one-out)') + ' loaded and checked',
                logger='current')

    def _norm(self, model):
        pre = getattr(model, 'data_preprocessor', None)
        out = []
        for given, attr, default in ((self.mean, 'mean', (123.675, 116.28,
                                                          103.53)),
                                     (self.std, 'std', (58.395, 57.12,
                                                        57.375))):
            if given is None and pre is not None and isinstance(
                    getattr(pre, attr, None), torch.Tensor):
                given = getattr(pre, attr).flatten().tolist()
            out.append(tuple(given) if given is not None else default)
        return out

    def evaluate(self, runner) -> dict:
        """Run the evaluation now; returns the metrics (no logging)."""
        from mmscrl.evaluation.checkpoint_eval import evaluate_backbone
        if self._sets is None:
            self._resolve(runner)
            self._sets = self._load()
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if backbone is None:
            raise AttributeError(
                f'BoxKNNHook: {type(model).__name__} has no "backbone"')
        mean, std = self._norm(model)
        return evaluate_backbone(
            backbone, self._sets[0], self._sets[1], ks=self.ks,
            temperature=self.temperature, mean=mean, std=std,
            batch_size=self.batch_size, roi_size=self.roi_size,
            stage=self.stage, feature_level=self.feature_level)

    def _run(self, runner):
        step = runner.iter + 1 if runner.iter is not None else 0
        if self._last_iter == runner.iter or not is_main_process():
            return
        self._last_iter = runner.iter
        start = time.perf_counter()
        metrics = self.evaluate(runner)
        seconds = time.perf_counter() - start
        scalars = {
            f'{self.prefix}{k}': v
            for k, v in metrics.items() if not k.startswith('num_')
        }
        k0 = self.ks[0]
        scalars[f'{self.prefix}box_top1'] = metrics[f'box_k{k0}_top1']
        scalars[f'{self.prefix}image_top1'] = metrics[f'image_k{k0}_top1']
        scalars[f'{self.prefix}seconds'] = seconds
        hub = runner.message_hub.log_scalars
        if 'train/time' in hub and hub['train/time'].mean() > 0:
            scalars[f'{self.prefix}cost_iters'] = (
                seconds / hub['train/time'].mean())
        runner.visualizer.add_scalars(scalars, step=step)
        self.history.append(dict(iter=step, **scalars))
        cost = scalars.get(f'{self.prefix}cost_iters')
        print_log(
            f'BoxKNNHook @ iter {step}: box kNN top-1 '
            f'{scalars[self.prefix + "box_top1"]:.2f}%, image kNN top-1 '
            f'{scalars[self.prefix + "image_top1"]:.2f}% '
            f'(k={k0}, {int(metrics["num_boxes"])} boxes, '
            f'{int(metrics["num_images"])} images); {seconds:.2f} s'
            + (f' = {cost:.1f} training iterations' if cost else ''),
            logger='current')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self._run(runner)
