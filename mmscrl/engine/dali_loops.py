# Copyright (c) mmscrl contributors. All rights reserved.
"""MMEngine train loops that feed the model from the optional DALI loader.

Switch any shipped two-view pre-training config to DALI (``pip install -e
.[dali]``) without editing it::

    CFG=configs/scrl/scrl_resnet50_8xb256-lars-coslr-200e_in1k.py
    tools/dist_train.sh $CFG 8 \\
        --cfg-options train_cfg.type=DALIEpochBasedTrainLoop

(``DALIIterBasedTrainLoop`` for iteration-based schedules such as the demo's;
options of the loader go in ``train_cfg.dali``, e.g.
``train_cfg.dali.num_threads=8``). The loop builds ``train_dataloader``'s
dataset exactly as the Runner would and hands it to
:class:`~mmscrl.datasets.dali_loader.DALITwoViewLoader`, which draws every
view parameter with the config's own samplers and lets DALI do the pixel
work; ``batch_size`` comes from ``train_dataloader``, the seed from the
Runner, the rank and world size from ``mmengine.dist``. ``num_workers``,
``sampler`` and ``collate_fn`` of ``train_dataloader`` are not used (DALI
has its own threads; the loader shards as ``DefaultSampler`` does and
collates with ``default_collate``, as the shipped configs do).
"""
import copy
from typing import Optional

from mmengine.dist import get_dist_info
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmscrl.registry import LOOPS

__all__ = ['build_dali_loader', 'DALIEpochBasedTrainLoop',
           'DALIIterBasedTrainLoop']


def build_dali_loader(runner, dataloader, epochs: Optional[int] = None,
                      num_threads: int = 4, device: str = 'auto',
                      **kwargs):
    """A :class:`DALITwoViewLoader` for a ``train_dataloader`` config.

    Args:
        runner (Runner): The runner (its seed seeds the loader).
        dataloader (dict): The ``train_dataloader`` config: its
            ``dataset`` and ``batch_size`` (and ``sampler.shuffle``, default
            True) are used.
        epochs (int, optional): Epochs per pass over the loader (1 for the
            epoch-based loop, None for endless). Defaults to None.
        num_threads (int): DALI CPU threads. Defaults to 4.
        device (str): ``'gpu'``, ``'cpu'`` or ``'auto'`` (``'gpu'`` when
            torch sees CUDA). Defaults to ``'auto'``.
        **kwargs: Other arguments of :class:`DALITwoViewLoader`
            (``drop_last``, ``device_id``).

    Returns:
        DALITwoViewLoader: The loader.

    Raises:
        ImportError: DALI is not installed (names the extra).
        TypeError: ``dataloader`` is not a config dict.
    """
    import torch

    from mmscrl.datasets.dali_loader import (DALITwoViewLoader,
                                             dali_available)
    if not dali_available():
        raise ImportError(
            'the DALI train loops need NVIDIA DALI: pip install -e .[dali] '
            '(nvidia-dali-cuda120), or use the config\'s EpochBasedTrainLoop'
            '/IterBasedTrainLoop')
    if not isinstance(dataloader, dict):
        raise TypeError('DALI train loops build their loader from the '
                        'train_dataloader config dict, got '
                        f'{type(dataloader).__name__}')
    cfg = copy.deepcopy(dict(dataloader))
    # build the dataset as the Runner does (lazy init, registry scope), in
    # a worker-less DataLoader whose only use is to hand it over
    cfg.update(num_workers=0, persistent_workers=False)
    cfg.pop('prefetch_factor', None)
    shuffle = dict(cfg.get('sampler') or {}).get('shuffle', True)
    built = runner.build_dataloader(cfg, seed=runner.seed)
    if device == 'auto':
        device = 'gpu' if torch.cuda.is_available() else 'cpu'
    rank, world_size = get_dist_info()
    kwargs.setdefault('drop_last', True)
    return DALITwoViewLoader(
        built.dataset, batch_size=built.batch_size, num_threads=num_threads,
        shuffle=shuffle, seed=0 if runner.seed is None else runner.seed,
        epochs=epochs, device=device, rank=rank, world_size=world_size,
        **kwargs)


@LOOPS.register_module()
class DALIIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` fed by the DALI loader.

    Args:
        runner (Runner): The runner.
        dataloader (dict): The ``train_dataloader`` config.
        max_iters (int): Total training iterations.
        dali (dict, optional): Arguments of :func:`build_dali_loader`
            (``num_threads``, ``device``, ``drop_last``, ``device_id``).
            Defaults to None (their defaults).
        **kwargs: Other arguments of ``IterBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, max_iters: int,
                 dali: Optional[dict] = None, **kwargs) -> None:
        loader = build_dali_loader(runner, dataloader, epochs=None,
                                   **(dali or {}))
        super().__init__(runner, loader, max_iters, **kwargs)


@LOOPS.register_module()
class DALIEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` fed by the DALI loader.

    The loader is told the epoch before each one (``set_epoch``), so a
    resumed run draws the epochs it would have drawn.

    Args:
        runner (Runner): The runner.
        dataloader (dict): The ``train_dataloader`` config.
        max_epochs (int): Total training epochs.
        dali (dict, optional): Arguments of :func:`build_dali_loader`.
            Defaults to None.
        **kwargs: Other arguments of ``EpochBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, max_epochs: int,
                 dali: Optional[dict] = None, **kwargs) -> None:
        loader = build_dali_loader(runner, dataloader, epochs=1,
                                   **(dali or {}))
        super().__init__(runner, loader, max_epochs, **kwargs)

    def run_epoch(self) -> None:
        self.dataloader.set_epoch(self._epoch)
        super().run_epoch()
