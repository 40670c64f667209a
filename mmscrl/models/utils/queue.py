# Copyright (c) mmscrl contributors. All rights reserved.
"""Pointer arithmetic of MoCo/DenseCL key queues, as pure functions.

A queue is a ``(C, K)`` buffer of normalised keys plus a one-element long
pointer buffer. Each step the gathered keys of the global batch overwrite the
oldest ``B`` columns starting at the pointer, and the pointer advances by
``B`` modulo ``K`` (MoCo, DenseCL official code). The official code asserts
``K % B == 0`` at every step; :func:`check_queue_divisible` states the same
condition once, with a message naming every number involved.
"""
import torch

__all__ = ['check_queue_divisible', 'enqueue_']


def check_queue_divisible(queue_len: int, batch_size: int,
                          world_size: int = 1) -> None:
    """Raise if the global batch does not divide the queue length.

    Args:
        queue_len (int): ``K``, the number of queued keys.
        batch_size (int): Images per process.
        world_size (int): Number of processes. Defaults to 1.

    Raises:
        ValueError: if ``queue_len % (batch_size * world_size) != 0``.
    """
    global_batch = batch_size * world_size
    if global_batch <= 0 or queue_len % global_batch != 0:
        raise ValueError(
            f'queue_len={queue_len} must be divisible by the global batch '
            f'size (batch_size={batch_size} per process x world_size='
            f'{world_size} = {global_batch}); change queue_len or the '
            'train_dataloader batch_size (and keep drop_last=True).')


@torch.no_grad()
def enqueue_(queue: torch.Tensor, ptr: torch.Tensor,
             keys: torch.Tensor) -> int:
    """Write ``keys`` into ``queue`` at ``ptr`` and advance ``ptr`` in place.

    Indices wrap around the end of the queue, so the call is well defined for
    any pointer; with ``K % B == 0`` (what the algorithms enforce) the write
    is the contiguous slice ``[ptr, ptr + B)`` of the official code.

    Args:
        queue (Tensor): ``(C, K)`` queue, modified in place.
        ptr (Tensor): ``(1,)`` long pointer, modified in place.
        keys (Tensor): ``(B, C)`` keys of the *global* batch, ``B <= K``.

    Returns:
        int: The new pointer ``(ptr + B) % K``.
    """
    channels, queue_len = queue.shape
    batch, key_channels = keys.shape
    if key_channels != channels:
        raise ValueError(f'enqueue_: keys have {key_channels} channels, the '
                         f'queue holds {channels}')
    if batch > queue_len:
        raise ValueError(f'enqueue_: {batch} keys exceed queue_len '
                         f'{queue_len}')
    start = int(ptr[0])
    cols = (start + torch.arange(batch, device=queue.device)) % queue_len
    queue[:, cols] = keys.t().to(queue.dtype)
    new_ptr = (start + batch) % queue_len
    ptr[0] = new_ptr
    return new_ptr
