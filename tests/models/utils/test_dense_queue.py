# Copyright (c) mmscrl contributors. All rights reserved.
"""Queue pointer arithmetic (mmscrl.models.utils.queue)."""
import pytest
import torch

from mmscrl.models.utils.queue import check_queue_divisible, enqueue_


@pytest.mark.parametrize('queue_len,batch,world', [(65536, 32, 8),
                                                    (16, 4, 1), (12, 3, 2)])
def test_divisible_passes(queue_len, batch, world):
    check_queue_divisible(queue_len, batch, world)


@pytest.mark.parametrize('queue_len,batch,world', [(65536, 24, 8),
                                                    (10, 4, 1), (16, 3, 2),
                                                    (16, 0, 1)])
def test_not_divisible_names_every_number(queue_len, batch, world):
    with pytest.raises(ValueError) as err:
        check_queue_divisible(queue_len, batch, world)
    msg = str(err.value)
    assert f'queue_len={queue_len}' in msg
    assert f'batch_size={batch}' in msg
    assert f'world_size={world}' in msg


def test_enqueue_pointer_sequence_and_wrap_around():
    queue_len, batch, c = 8, 2, 3
    queue = torch.zeros(c, queue_len)
    ptr = torch.zeros(1, dtype=torch.long)
    ptrs = []
    for step in range(6):
        keys = torch.full((batch, c), float(step + 1))
        ptrs.append(enqueue_(queue, ptr, keys))
        assert int(ptr[0]) == ptrs[-1]
    assert ptrs == [2, 4, 6, 0, 2, 4]
    # steps 5 and 6 overwrote the oldest columns (steps 1 and 2)
    expected = torch.tensor([5., 5., 6., 6., 3., 3., 4., 4.])
    for row in range(c):
        assert torch.equal(queue[row], expected)


def test_enqueue_writes_keys_transposed():
    queue = torch.zeros(4, 6)
    ptr = torch.tensor([2])
    keys = torch.arange(8.).reshape(2, 4)
    enqueue_(queue, ptr, keys)
    assert torch.equal(queue[:, 2], keys[0])
    assert torch.equal(queue[:, 3], keys[1])
    assert queue[:, [0, 1, 4, 5]].abs().sum() == 0


def test_enqueue_wraps_when_batch_does_not_divide():
    """Modular indices: a write across the end continues at column 0."""
    queue = torch.zeros(1, 5)
    ptr = torch.tensor([4])
    new = enqueue_(queue, ptr, torch.tensor([[1.], [2.], [3.]]))
    assert new == 2 and int(ptr[0]) == 2
    assert queue[0].tolist() == [2., 3., 0., 0., 1.]


def test_enqueue_errors():
    with pytest.raises(ValueError, match='channels'):
        enqueue_(torch.zeros(3, 4), torch.zeros(1, dtype=torch.long),
                 torch.zeros(1, 2))
    with pytest.raises(ValueError, match='exceed'):
        enqueue_(torch.zeros(2, 4), torch.zeros(1, dtype=torch.long),
                 torch.zeros(5, 2))
