# Copyright (c) mmscrl contributors. All rights reserved.
"""Auto-resume (``--resume`` without a path) picks the run's own newest
complete training checkpoint: never another run's file, never a
backbone-only file; it copes with a moved work dir and an empty
``last_checkpoint``, and its errors say how to resume explicitly.
"""
import os
import os.path as osp
import shutil
import sys

import pytest
import torch

import mmscrl  # noqa: F401
from mmscrl.compat import (checkpoint_resume_problem,
                           find_latest_complete_checkpoint)

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from _toy_runner import make_runner  # noqa: E402


def _training_ckpt(path, it):
    """A file with what mmengine's ``Runner.resume`` reads."""
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance(f'fallback_test_{it}')
    hub.update_scalar('train/loss', 1.0 / (it + 1))
    torch.save(
        dict(meta=dict(epoch=0, iter=it), state_dict={'w': torch.ones(2)},
             message_hub=hub.state_dict()), path)
    return str(path)


def _backbone_only(path):
    """What extract_backbone.py writes: weights, no training state."""
    torch.save(dict(state_dict={'conv1.weight': torch.ones(2, 2)},
                    meta=dict(source='iter_9.pth')), path)
    return str(path)


def _write_last(work, text):
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(text)


def test_fallback_takes_only_the_runs_own_checkpoints(tmp_path):
    """Issue 21 item 8: ``seed2_run_backup_9.pth`` (another run's backbone)
    has the highest number but is no checkpoint of this run."""
    work = str(tmp_path)
    own = _training_ckpt(tmp_path / 'iter_6.pth', 6)
    _backbone_only(tmp_path / 'seed2_run_backup_9.pth')
    _training_ckpt(tmp_path / 'other_run_iter_8.pth', 8)
    _backbone_only(tmp_path / 'iter_7.pth')  # own name, no training state
    _write_last(work, osp.join(work, 'iter_10.pth'))  # missing
    with pytest.warns(UserWarning) as rec:
        assert find_latest_complete_checkpoint(work) == own
    msg = ' '.join(str(w.message) for w in rec)
    assert 'iter_10.pth' in msg and 'is missing' in msg
    # the skipped file of this run's name is counted and named
    assert 'iter_7.pth' in msg and "'iter'" in msg


def test_complete_but_not_resumable_last_checkpoint_falls_back(tmp_path):
    work = str(tmp_path)
    own = _training_ckpt(tmp_path / 'iter_4.pth', 4)
    _backbone_only(tmp_path / 'iter_5.pth')
    _write_last(work, osp.join(work, 'iter_5.pth'))
    with pytest.warns(UserWarning, match='iter_5.pth.*no training state'):
        assert find_latest_complete_checkpoint(work) == own


def test_resume_problem_reads_keys_without_running_code(tmp_path):
    good = _training_ckpt(tmp_path / 'iter_1.pth', 1)
    assert checkpoint_resume_problem(good) is None
    bad = _backbone_only(tmp_path / 'iter_2.pth')
    assert 'message_hub' in checkpoint_resume_problem(bad)

    class Evil:

        def __reduce__(self):
            return (os.system, ('touch ' + str(tmp_path / 'pwned'), ))

    evil = tmp_path / 'iter_3.pth'
    torch.save(dict(meta=dict(epoch=0, iter=3), state_dict={},
                    message_hub={}, payload=Evil()), evil)
    assert checkpoint_resume_problem(str(evil)) is None  # keys are there
    assert not osp.exists(tmp_path / 'pwned')  # ... and nothing ran
    cut = tmp_path / 'iter_4.pth'
    cut.write_bytes(open(good, 'rb').read()[:200])
    assert 'truncated' in checkpoint_resume_problem(str(cut))
    empty = tmp_path / 'iter_5.pth'
    empty.write_bytes(b'')
    assert 'empty' in checkpoint_resume_problem(str(empty))


def test_moved_work_dir_resumes_from_its_own_copy(tmp_path):
    """Issue 21 item 15: last_checkpoint holds the old absolute path."""
    old = str(tmp_path / 'old_place' / 'run')
    make_runner(old, max_iters=2, name='toy_moved_a').train()
    new = str(tmp_path / 'new_place')
    shutil.move(old, new)
    with pytest.warns(UserWarning, match='moved.*' +
                      osp.join(new, 'iter_2.pth')):
        assert find_latest_complete_checkpoint(new) == osp.join(
            new, 'iter_2.pth')
    runner = make_runner(new, max_iters=3, resume=True, name='toy_moved_b')
    with pytest.warns(UserWarning, match='moved'):
        runner.train()
    assert runner.iter == 3
    assert 'resumed epoch: 0, iter: 2' in open(runner.logger.log_file).read()


def test_moved_work_dir_named_file_gone_takes_newest_own(tmp_path):
    work = str(tmp_path / 'moved')
    os.makedirs(work)
    own = _training_ckpt(osp.join(work, 'iter_3.pth'), 3)
    _write_last(work, str(tmp_path / 'elsewhere' / 'run' / 'iter_6.pth'))
    with pytest.warns(UserWarning, match='iter_6.pth.*iter_3.pth'):
        assert find_latest_complete_checkpoint(work) == own


def test_no_checkpoint_left_error_says_how_to_resume(tmp_path):
    work = str(tmp_path)
    _backbone_only(tmp_path / 'seed2_run_backup_9.pth')
    _write_last(work, str(tmp_path / 'gone' / 'iter_6.pth'))
    with pytest.raises(FileNotFoundError) as err:
        find_latest_complete_checkpoint(work)
    msg = str(err.value)
    assert 'iter_6.pth' in msg and 'last_checkpoint' in msg
    assert '--resume PATH' in msg and work in msg


def test_empty_last_checkpoint(tmp_path):
    """Issue 21 item 17: ``FileNotFoundError:  can not be found.``"""
    work = str(tmp_path)
    _write_last(work, '\n')
    with pytest.raises(FileNotFoundError,
                       match='last_checkpoint.*is empty') as err:
        find_latest_complete_checkpoint(work)
    assert osp.join(work, 'last_checkpoint') in str(err.value)
    assert '--resume PATH' in str(err.value)
    own = _training_ckpt(tmp_path / 'iter_2.pth', 2)
    with pytest.warns(UserWarning, match='last_checkpoint.*is empty'):
        assert find_latest_complete_checkpoint(work) == own


def test_no_last_checkpoint_starts_from_scratch(tmp_path):
    assert find_latest_complete_checkpoint(str(tmp_path)) is None
