# Copyright (c) mmscrl contributors. All rights reserved.
"""Train and evaluate a convolutional model in the channels-last layout."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmscrl.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Puts every 4-D parameter and buffer of the model in the channels-last
    (NHWC) memory layout before the run.

    A convolution whose weight is channels-last returns a channels-last
    output, so the whole network then runs NHWC without touching the data
    pipeline. oneDNN's CPU convolutions are faster in that layout, and
    NVIDIA recommends it for tensor-core convolutions under AMP (not
    measured here: no GPU). It changes the memory layout only, not the
    computation: the model, its parameters, checkpoints and ``state_dict``
    keys and values are the same (a checkpoint written with the hook loads
    into a model without it and vice versa); results differ from the NCHW
    run only by floating-point summation order. Measured side by side on
    the demo models (2 CPU cores, idle, ``tools/benchmarks/run.py
    --sections channels_last --batch 32 --size 96``): 1.22 s NCHW against
    1.02 s NHWC per SCRL step (1.20x), 0.57 s against 0.55 s per Faster
    R-CNN R18-FPN step (1.05x; half of that step is not convolution).

    Custom CUDA/C++ ops that index raw NCHW memory (mmcv's RoIAlign, for
    one) read a channels-last map wrongly without an error: the RoI layers
    of ``mmscrl.models.utils.roi_layers`` make their input NCHW first, and
    any other such op in a model needs the same before using this hook.

    It runs in ``before_run`` at priority ``VERY_HIGH``: before the model's
    weights are initialised or loaded, before mmengine's ``EMAHook`` copies
    the model, in training, validation and test runs alike. The optimizer
    keeps its parameters (``Module.to`` swaps the tensors' storage in place
    of the ``Parameter`` objects), and state resumed in NCHW works with NHWC
    parameters.

    Args:
        enabled (bool): Convert the model. ``False`` makes the hook a no-op
            (e.g. ``--cfg-options`` on a machine where NHWC is slower).
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(
                f'ChannelsLastHook: enabled must be a bool, got {enabled!r}')
        self.enabled = enabled

    def before_run(self, runner) -> None:
        if not self.enabled:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.to(memory_format=torch.channels_last)
        n = sum(1 for p in model.parameters()
                if p.dim() == 4 and p.is_contiguous(
                    memory_format=torch.channels_last))
        runner.logger.info(
            f'ChannelsLastHook: model in channels-last layout ({n} 4-D '
            'parameters)')
