# Copyright (c) mmscrl contributors. All rights reserved.
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmscrl.models.utils.queue import check_queue_divisible
from mmscrl.registry import HOOKS


@HOOKS.register_module()
class QueueLenCheckHook(Hook):
    """Refuse to train when the key queue cannot hold whole global batches.

    MoCo-style queues (mmpretrain ``MoCo``/``DenseCL``, mmscrl
    ``DenseCLOfficial``) overwrite ``batch_size * world_size`` columns per
    step and the official code asserts ``queue_len % global_batch == 0``
    *after* the first forward. This hook checks the model's ``queue_len``
    against ``train_dataloader.batch_size`` and the world size in
    ``before_train``, before any data is loaded, and also refuses a loader
    whose last batch would be smaller (``drop_last=False`` with a
    non-infinite sampler whose length the batch does not divide).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = get_ori_model(runner.model)
        queue_len = getattr(model, 'queue_len', None)
        if queue_len is None:
            raise ValueError(
                f'QueueLenCheckHook: model {type(model).__name__} has no '
                '"queue_len" attribute; remove the hook from custom_hooks.')
        loader = runner.train_dataloader
        batch_size = loader.batch_size
        check_queue_divisible(queue_len, batch_size, get_world_size())
        sampler = loader.sampler
        if not loader.drop_last and not isinstance(sampler, InfiniteSampler):
            remainder = len(sampler) % batch_size
            if remainder:
                raise ValueError(
                    'QueueLenCheckHook: train_dataloader.drop_last=False and '
                    f'{len(sampler)} samples per process leave a last batch '
                    f'of {remainder} images, which breaks queue_len='
                    f'{queue_len} divisibility; set drop_last=True.')
