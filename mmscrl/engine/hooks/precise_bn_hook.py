# Copyright (c) mmscrl contributors. All rights reserved.
"""PreciseBN for mmdet detectors: detectron2's ``TEST.PRECISE_BN``."""
import copy
from typing import Iterator, List, Optional

import torch
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import DATA_SAMPLERS
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.engine.hooks import PreciseBNHook
from mmpretrain.engine.hooks.precise_bn_hook import scaled_all_reduce
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from mmscrl.registry import HOOKS

__all__ = ['DetPreciseBNHook', 'update_bn_stats_in_loss_mode']


def _training_bn_layers(model: torch.nn.Module) -> List[_BatchNorm]:
    """The BN layers that training updates: in training mode (not in a
    frozen stage or ``norm_eval``) and tracking running statistics."""
    return [
        m for m in model.modules() if isinstance(m, _BatchNorm)
        and m.training and m.track_running_stats
    ]


@torch.no_grad()
def update_bn_stats_in_loss_mode(model: torch.nn.Module,
                                 batches: Iterator,
                                 num_iters: int,
                                 logger=None) -> int:
    """Set every training BN layer's running statistics to their precise
    averages over ``num_iters`` training batches.

    As detectron2's ``hooks.PreciseBN`` (fvcore ``update_bn_stats``): each
    BN layer's momentum is set to 1, so that after a forward pass its
    ``running_mean``/``running_var`` hold the statistics of that batch
    (the unbiased variance, as PyTorch's BN stores it); the new running
    statistics are the plain means of these over the ``num_iters`` batches.
    The model runs its **training** forward (``mode='loss'``, under
    ``no_grad``), so the norms of the RoI heads see the sampled training
    RoIs, not test-time proposals. With SyncBN the batch statistics are
    those of the global batch; plain BN statistics are averaged over the
    ranks afterwards (``scaled_all_reduce``), so every rank ends with the
    same buffers.

    Args:
        model (torch.nn.Module): The detector (a model wrapper is unwrapped);
            it is put in training mode for the passes and its mode restored.
        batches (Iterator): Yields data batches as the training dataloader
            does (before the data preprocessor).
        num_iters (int): Number of batches.
        logger: Passed to :func:`mmengine.logging.print_log`.

    Returns:
        int: The number of BN layers updated (0 if the model has none in
        training mode).

    Raises:
        RuntimeError: ``batches`` stopped before ``num_iters`` batches (the
            statistics are then left unchanged).
    """
    if is_model_wrapper(model):
        model = model.module
    was_training = model.training
    model.train()
    bn_layers = _training_bn_layers(model)
    if not bn_layers:
        model.train(was_training)
        print_log('PreciseBN: no BN layer in training mode', logger=logger)
        return 0
    momenta = [bn.momentum for bn in bn_layers]
    saved = [{k: v.clone() for k, v in bn.state_dict().items()}
             for bn in bn_layers]
    means = [torch.zeros_like(bn.running_mean) for bn in bn_layers]
    variances = [torch.zeros_like(bn.running_var) for bn in bn_layers]
    for bn in bn_layers:
        bn.momentum = 1.0
    done = 0
    complete = False
    try:
        for data in batches:
            data = model.data_preprocessor(data, True)
            model(**data, mode='loss')
            done += 1
            for i, bn in enumerate(bn_layers):
                # running mean of the per-batch statistics
                means[i] += (bn.running_mean - means[i]) / done
                variances[i] += (bn.running_var - variances[i]) / done
            if done == num_iters:
                break
        complete = done == num_iters
    finally:
        for bn, momentum, state in zip(bn_layers, momenta, saved):
            bn.momentum = momentum
            if not complete:  # leave the statistics as they were
                bn.load_state_dict(state)
        model.train(was_training)
    if not complete:
        raise RuntimeError(
            f'PreciseBN needs {num_iters} batches, the data loader stopped '
            f'after {done}')
    _, world_size = get_dist_info()
    means = scaled_all_reduce(means, world_size)
    variances = scaled_all_reduce(variances, world_size)
    for bn, mean, var in zip(bn_layers, means, variances):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    return len(bn_layers)


@HOOKS.register_module()
class DetPreciseBNHook(PreciseBNHook):
    """PreciseBN for mmdet detectors, as detectron2's ``TEST.PRECISE_BN``
    (on in the MoCo, DenseCL, ORL and PixPro detection configs).

    After the last training iteration (or epoch), and optionally every
    ``interval`` iterations (epochs for an epoch-based loop), the running
    statistics of every BN layer in training mode are replaced by their
    precise averages over ``num_iters`` training batches
    (:func:`update_bn_stats_in_loss_mode`); the validation and the
    checkpoint that follow use them. detectron2 runs it after the last
    iteration and every ``TEST.EVAL_PERIOD`` iterations; the MoCo, DenseCL,
    ORL and PixPro configs leave ``EVAL_PERIOD`` at 0, hence the default
    ``interval=None`` (the end only).

    mmpretrain's ``PreciseBNHook`` (the parent; its interval logic is
    reused) cannot run a detector: it unpacks the data preprocessor's
    output as a tuple (mmdet's ``DetDataPreprocessor`` returns a dict) and
    runs the model in ``tensor`` mode, where the RoI heads see test-time
    proposals instead of the sampled training RoIs that detectron2's
    PreciseBN (a training forward) gives their norms. It also iterates the
    training dataloader itself, which restarts the training loop's
    iterator when workers are persistent. This hook instead draws the
    batches from its own loader on the training dataset (same sampler,
    batch sampler, batch size, collate function and workers, a different
    seed, non-persistent workers), kept across calls as detectron2 keeps
    its data iterator, and runs the detector's ``loss`` forward.

    Priority ``ABOVE_NORMAL``: it runs before ``CheckpointHook`` and before
    the validation of the same iteration.

    Args:
        num_iters (int): Batches to average over (detectron2's
            ``TEST.PRECISE_BN.NUM_ITER``). Defaults to 200.
        interval (int, optional): Also run every ``interval`` iterations
            (epochs). Defaults to None: only after the last one.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 num_iters: int = 200,
                 interval: Optional[int] = None) -> None:
        if not isinstance(num_iters, int) or num_iters <= 0:
            raise ValueError(
                f'DetPreciseBNHook: num_iters must be a positive int, got '
                f'{num_iters!r}')
        if interval is not None and (not isinstance(interval, int)
                                     or interval <= 0):
            raise ValueError(
                f'DetPreciseBNHook: interval must be None or a positive int, '
                f'got {interval!r}')
        self.num_iters = num_iters
        self.interval = interval
        self._batches: Optional[Iterator] = None
        #: number of BN layers updated by the last run (None before)
        self.updated_layers: Optional[int] = None

    # ------------------------------------------------------------ data ---
    def _build_loader(self, runner) -> DataLoader:
        train_loader = runner.train_loop.dataloader
        cfg = runner.cfg.get('train_dataloader')
        if cfg is None or 'sampler' not in cfg:
            raise KeyError(
                'DetPreciseBNHook needs cfg.train_dataloader.sampler to '
                'build its own loader on the training dataset')
        dataset = train_loader.dataset
        seed = (runner.seed or 0) + 1
        sampler = DATA_SAMPLERS.build(
            dict(copy.deepcopy(cfg['sampler']), dataset=dataset, seed=seed))
        kwargs = dict(
            num_workers=train_loader.num_workers,
            collate_fn=train_loader.collate_fn,
            worker_init_fn=train_loader.worker_init_fn,
            persistent_workers=False)
        if cfg.get('batch_sampler') is not None:
            batch_sampler = DATA_SAMPLERS.build(
                dict(copy.deepcopy(cfg['batch_sampler']), sampler=sampler,
                     batch_size=cfg['batch_size']))
            return DataLoader(dataset, batch_sampler=batch_sampler, **kwargs)
        return DataLoader(
            dataset,
            batch_size=cfg['batch_size'],
            sampler=sampler,
            drop_last=train_loader.drop_last,
            **kwargs)

    def _next_batches(self, runner) -> Iterator:
        """Batches from the hook's loader; a finite (epoch) sampler is
        restarted when it runs out."""
        loader = None
        while True:
            if self._batches is None:
                loader = loader or self._build_loader(runner)
                self._batches = iter(loader)
            try:
                yield next(self._batches)
            except StopIteration:
                self._batches = None

    # ------------------------------------------------------------ hook ---
    def _perform_precise_bn(self, runner) -> None:
        print_log(
            f'PreciseBN: recomputing BN statistics over {self.num_iters} '
            'training batches', logger=runner.logger)
        self.updated_layers = update_bn_stats_in_loss_mode(
            runner.model, self._next_batches(runner), self.num_iters,
            logger=runner.logger)
        print_log(
            f'PreciseBN: updated {self.updated_layers} BN layers',
            logger=runner.logger)

    def after_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        last = runner.epoch + 1 >= runner.max_epochs
        if last or (self.interval is not None
                    and self.every_n_epochs(runner, self.interval)):
            self._perform_precise_bn(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        last = runner.iter + 1 >= runner.max_iters
        if last or (self.interval is not None
                    and self.every_n_train_iters(runner, self.interval)):
            self._perform_precise_bn(runner)
