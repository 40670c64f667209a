# Copyright (c) mmscrl contributors. All rights reserved.
"""``SelfSupOptimWrapperConstructor``: mmengine's default optimizer wrapper
constructor, with mixed precision where the hardware has it and one log
line for the frozen (EMA target) parameters.

The SCRL and ORL recipes train in mixed precision as their official code
(``AmpOptimWrapper``, dynamic loss scale). mmengine's ``AmpOptimWrapper``
asserts a GPU (CUDA, NPU, MLU or MUSA), so on a CPU-only machine these
recipes crashed before their first iteration, and the natural override
``optim_wrapper.type=OptimWrapper`` failed on ``loss_scale``. This
constructor keeps the wrapper of the config wherever it can run and adapts
it otherwise, saying so in one line:

* ``AmpOptimWrapper`` (or a subclass) without any such device: the plain
  ``OptimWrapper`` is built instead (fp32), without the AMP-only arguments
  (``loss_scale``, ``dtype``, ``use_fsdp``). On a GPU nothing changes: the
  wrapper is ``AmpOptimWrapper``, built from the same arguments.
* A wrapper that does not take the AMP-only arguments
  (``--cfg-options optim_wrapper.type=OptimWrapper``): they are dropped,
  and named in the log.

mmengine's ``DefaultOptimWrapperConstructor`` logs one warning per
parameter with ``requires_grad=False`` when ``paramwise_cfg`` is set (the
LARS recipes): 65 (ResNet-18) to 164 (ResNet-50) lines of ``target_net.*
is skipped`` at the start of every BYOL-family run, for the EMA target
network that is never meant to be optimized. They are replaced by one line
that counts them per top-level module; every other message of the
constructor is kept.
"""
import inspect
import logging
import re
from collections import Counter
from typing import Optional

import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.optim import (AmpOptimWrapper, DefaultOptimWrapperConstructor,
                            OptimWrapper)
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS

from mmscrl.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['SelfSupOptimWrapperConstructor']

_SKIPPED = re.compile(r'^(?P<name>\S+) is skipped since its '
                      r'requires_grad=False$')


def amp_device_available() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can run here (the devices its
    constructor accepts: CUDA, NPU, MLU or MUSA)."""
    import mmengine.device as device
    checks = ('is_cuda_available', 'is_npu_available', 'is_mlu_available',
              'is_musa_available')
    return any(getattr(device, name, lambda: False)() for name in checks)


def _init_args(cls):
    """Names of the arguments of ``cls.__init__`` (``**kwargs`` aside)."""
    params = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in kinds}


#: arguments of ``AmpOptimWrapper`` that ``OptimWrapper`` does not take
AMP_ONLY_KEYS = tuple(
    sorted(_init_args(AmpOptimWrapper) - _init_args(OptimWrapper)))


class _SkippedCollector(logging.Filter):
    """Swallows mmengine's per-parameter ``... is skipped since its
    requires_grad=False`` records and keeps their names."""

    def __init__(self):
        super().__init__()
        self.names = []

    def filter(self, record: logging.LogRecord) -> bool:
        match = _SKIPPED.match(record.getMessage())
        if match is None:
            return True
        self.names.append(match.group('name'))
        return False


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SelfSupOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` that falls back from mixed
    precision to fp32 where no GPU is, drops AMP-only arguments a wrapper
    does not take, and summarises the parameters left out of the optimizer
    because they do not require gradients.

    Param groups, ``paramwise_cfg`` and the optimizer are exactly those of
    :class:`mmengine.optim.DefaultOptimWrapperConstructor`.

    Examples:
        >>> optim_wrapper = dict(
        ...     type='AmpOptimWrapper', loss_scale='dynamic',
        ...     constructor='SelfSupOptimWrapperConstructor',
        ...     optimizer=dict(type='SGD', lr=0.4, momentum=0.9))

    Args:
        optim_wrapper_cfg (dict): The config of the optimizer wrapper
            (``type``, ``optimizer`` and the wrapper's arguments).
        paramwise_cfg (dict, optional): Parameter-wise options, as for
            ``DefaultOptimWrapperConstructor``. Defaults to None.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        self.optim_wrapper_cfg = self.adapt_wrapper_cfg(
            self.optim_wrapper_cfg)

    @staticmethod
    def adapt_wrapper_cfg(cfg: dict) -> dict:
        """The wrapper config that can be built on this machine.

        Args:
            cfg (dict): ``optim_wrapper`` without ``constructor`` and
                ``paramwise_cfg``.

        Returns:
            dict: ``cfg`` itself when it can be built here; otherwise a
            copy with ``type='OptimWrapper'`` (an AMP wrapper on a machine
            without GPU) and without the AMP-only arguments the wrapper
            does not take. Each change is logged in one line.
        """
        wrapper = cfg.get('type', 'OptimWrapper')
        cls = wrapper
        if isinstance(wrapper, str):
            cls = MMENGINE_OPTIM_WRAPPERS.get(wrapper)
        if not inspect.isclass(cls):  # unknown type: the build will say so
            return cfg
        name = wrapper if isinstance(wrapper, str) else cls.__name__
        cfg = dict(cfg)
        if issubclass(cls, AmpOptimWrapper) and not amp_device_available():
            dropped = {k: cfg.pop(k) for k in AMP_ONLY_KEYS if k in cfg}
            cfg['type'] = 'OptimWrapper'
            print_log(
                f'optim_wrapper: {name} needs a GPU (CUDA, NPU, MLU or '
                f'MUSA) and none is available, so this run trains in fp32 '
                f'with OptimWrapper'
                + (f' (ignoring {_fmt(dropped)})' if dropped else '')
                + '; on a GPU the same config trains in mixed precision. '
                'Set optim_wrapper.type=OptimWrapper to choose fp32 '
                'explicitly.',
                logger='current', level=logging.WARNING)
            return cfg
        if issubclass(cls, AmpOptimWrapper):
            return cfg
        # a wrapper's **kwargs end in OptimWrapper, which refuses these too
        accepted = _init_args(cls)
        dropped = {
            k: cfg.pop(k)
            for k in AMP_ONLY_KEYS if k in cfg and k not in accepted
        }
        if dropped:
            print_log(
                f'optim_wrapper: {name} does not take the mixed-precision '
                f'arguments {_fmt(dropped)} (AmpOptimWrapper\'s); they are '
                f'ignored and this run trains in fp32.',
                logger='current', level=logging.INFO)
        return cfg

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optimizer wrapper of ``model``, logging one summary
        line instead of one warning per parameter with
        ``requires_grad=False``.

        Args:
            model (nn.Module): The model (or its DDP wrapper).

        Returns:
            OptimWrapper: The optimizer wrapper.
        """
        logger = MMLogger.get_current_instance()
        collector = _SkippedCollector()
        logger.addFilter(collector)
        try:
            optim_wrapper = super().__call__(model)
        finally:
            logger.removeFilter(collector)
        if collector.names:
            counts = Counter(n.split('.', 1)[0] for n in collector.names)
            print_log(
                f'optim_wrapper: {len(collector.names)} parameters with '
                f'requires_grad=False are not optimized: ' + ', '.join(
                    f'{prefix}.* ({n})' for prefix, n in counts.items()),
                logger='current', level=logging.INFO)
        return optim_wrapper


def _fmt(args: dict) -> str:
    return ', '.join(f'{k}={v!r}' for k, v in args.items())
