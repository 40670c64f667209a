# Copyright (c) mmscrl contributors. All rights reserved.
"""A kill during a checkpoint save never loses the previous checkpoint."""
import errno
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

import mmscrl  # noqa: F401
from mmscrl.compat import (atomic_write_bytes, checkpoint_is_complete,
                           find_latest_complete_checkpoint)

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from _toy_runner import make_runner  # noqa: E402


def _last(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def test_kill_during_save_then_resume(tmp_path):
    """SIGKILL half-way through writing iter_3.pth (max_keep_ckpts=1)."""
    work = str(tmp_path / 'run')
    proc = subprocess.run([
        sys.executable,
        osp.join(HERE, '_toy_runner.py'), work, '--kill-writing',
        'iter_3.pth'
    ], capture_output=True, text=True, timeout=240)
    assert proc.returncode == -9, proc.stderr[-2000:]
    # mmengine alone deletes iter_2.pth first and truncates iter_3.pth;
    # here iter_2.pth is intact and still the one last_checkpoint names
    assert not osp.exists(osp.join(work, 'iter_3.pth'))
    assert _last(work) == osp.join(work, 'iter_2.pth')
    assert checkpoint_is_complete(osp.join(work, 'iter_2.pth'))
    runner = make_runner(work, resume=True, name='toy_resume')
    runner.train()
    assert runner.iter == 4
    log = open(runner.logger.log_file).read()
    assert 'resumed epoch: 0, iter: 2' in log
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == [
        'iter_4.pth'
    ]
    # the stale temporary file of the killed writer is gone too
    assert not [f for f in os.listdir(work) if f.endswith('.part')]


def test_resume_skips_truncated_checkpoint(tmp_path):
    """A truncated file named by last_checkpoint is never resumed from."""
    work = str(tmp_path / 'run')
    make_runner(work, max_iters=2, name='toy_trunc').train()
    good = osp.join(work, 'iter_1.pth')
    bad = osp.join(work, 'iter_2.pth')
    shutil.copy(bad, good)  # a complete older checkpoint of the run
    data = open(bad, 'rb').read()
    with open(bad, 'wb') as f:  # cut short, as by a kill mid-write
        f.write(data[:len(data) // 2])
    assert not checkpoint_is_complete(bad)
    with pytest.warns(UserWarning, match='iter_2.pth.*truncated'):
        assert find_latest_complete_checkpoint(work) == good
    os.remove(good)
    with pytest.raises(FileNotFoundError, match='iter_2.pth.*truncated'):
        find_latest_complete_checkpoint(work)


def test_zero_byte_checkpoint_is_incomplete(tmp_path):
    path = tmp_path / 'iter_9.pth'
    path.write_bytes(b'')
    assert not checkpoint_is_complete(str(path))
    assert not checkpoint_is_complete(str(tmp_path / 'missing.pth'))


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = str(tmp_path / 'f.bin')
    atomic_write_bytes(path, b'old')

    def boom(fd):
        raise KeyboardInterrupt  # interrupted before the rename

    monkeypatch.setattr(os, 'fsync', boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b'new' * 1000)
    assert open(path, 'rb').read() == b'old'
    assert os.listdir(tmp_path) == ['f.bin']


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_error_names_the_file(tmp_path, monkeypatch):
    """Issue 21 item 21: ENOSPC during a save names the file it was
    writing, keeps the errno (and exception type) and leaves no
    temporary file."""
    from mmscrl.utils.fileio import atomic_write
    path = str(tmp_path / 'iter_8.pth')
    atomic_write_bytes(path, b'old')
    with pytest.raises(OSError) as err:
        atomic_write(path, _enospc)  # the writer itself fails
    assert err.value.errno == errno.ENOSPC
    assert err.value.filename == path
    msg = str(err.value)
    assert path in msg and 'No space left' in msg
    assert 'temporary file' in msg and 'removed' in msg
    assert open(path, 'rb').read() == b'old'
    assert os.listdir(tmp_path) == ['iter_8.pth']


def test_full_disk_during_runner_checkpoint_save(tmp_path, monkeypatch):
    """The same through mmengine's CheckpointHook -> LocalBackend.put."""
    work = str(tmp_path / 'run')
    runner = make_runner(work, max_iters=1, name='toy_enospc')
    monkeypatch.setattr(os, 'fsync', _enospc)  # the disk fills up
    with pytest.raises(OSError) as err:
        runner.train()
    assert err.value.errno == errno.ENOSPC
    assert osp.join(work, 'iter_1.pth') in str(err.value)
    assert not [f for f in os.listdir(work) if f.endswith(('.part', '.pth'))]
