# Copyright (c) mmscrl contributors. All rights reserved.
"""Issue 21 item 3: two trainings into one work dir -- the second refuses,
naming the first; a killed holder never blocks; DDP ranks > 0 share."""
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from mmscrl.utils.work_dir_lock import (LOCK_NAME, LOCKS_ENV, launch_rank,
                                        work_dir_lock)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RANK_VARS = ('RANK', 'LOCAL_RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK')


@pytest.fixture(autouse=True)
def single_process_env(monkeypatch):
    """No launcher rank and no inherited lock in the environment (restored
    afterwards, even if the code under test sets one)."""
    for var in RANK_VARS + (LOCKS_ENV, ):
        monkeypatch.setenv(var, '0')
        monkeypatch.delenv(var)


def _child_code(work_dir, then='time.sleep(120)'):
    # the module alone (it imports nothing of mmscrl): a quick start
    module = osp.join(REPO, 'mmscrl', 'utils', 'work_dir_lock.py')
    return textwrap.dedent(f"""
        import importlib.util, time
        spec = importlib.util.spec_from_file_location('lock', {module!r})
        lock = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lock)
        with lock.work_dir_lock({str(work_dir)!r}) as path:
            print('locked', path, flush=True)
            {then}
        """)


def _child_env(keep_locks=False):
    drop = RANK_VARS + (() if keep_locks else (LOCKS_ENV, ))
    return {k: v for k, v in os.environ.items() if k not in drop}


def _holder(work_dir):
    """A child process that takes the lock and waits to be killed."""
    proc = subprocess.Popen(
        [sys.executable, '-c', _child_code(work_dir), 'holder-marker'],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env=_child_env())
    assert proc.stdout.readline().split()[0] == 'locked'
    return proc


def test_second_acquirer_is_refused_naming_the_holder(tmp_path):
    work = str(tmp_path / 'run')
    proc = _holder(work)
    try:
        with pytest.raises(RuntimeError) as err:
            with work_dir_lock(work):
                pytest.fail('the lock was granted twice')
        msg = str(err.value)
        assert work in msg
        assert f'pid: {proc.pid}' in msg
        assert socket.gethostname() in msg
        assert 'holder-marker' in msg  # its command line
        assert '--work-dir' in msg and 'Wait' in msg
    finally:
        proc.kill()
        proc.wait()


def test_killed_holder_does_not_block(tmp_path):
    work = str(tmp_path / 'run')
    proc = _holder(work)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    lock_file = osp.join(work, LOCK_NAME)
    assert f'pid: {proc.pid}' in open(lock_file).read()  # stale file left
    with work_dir_lock(work) as path:
        assert path == lock_file
        assert f'pid: {os.getpid()}' in open(path).read()
    assert not osp.exists(lock_file)  # removed on a clean exit


def test_same_process_twice_is_refused_and_released(tmp_path):
    work = str(tmp_path / 'run')
    with work_dir_lock(work):
        with pytest.raises(RuntimeError, match=f'pid: {os.getpid()}'):
            with work_dir_lock(work):
                pass
    with work_dir_lock(work):  # released: can be taken again
        pass
    with pytest.raises(ValueError):
        with work_dir_lock(work):
            raise ValueError('training failed')
    assert not osp.exists(osp.join(work, LOCK_NAME))


@pytest.mark.parametrize('var', RANK_VARS)
def test_other_ranks_of_a_launch_share_the_work_dir(tmp_path, monkeypatch,
                                                    var):
    work = str(tmp_path / 'run')
    with work_dir_lock(work):
        monkeypatch.setenv(var, '1')
        assert launch_rank() == 1
        with work_dir_lock(work) as path:
            assert path is None  # rank 1: no lock taken, no error
        monkeypatch.setenv(var, '0')
        with pytest.raises(RuntimeError):
            with work_dir_lock(work):
                pass


def test_children_of_the_holder_pass_through(tmp_path):
    """A workflow that holds the lock can run tools/train.py (which locks
    the same work dir) as a child process; an unrelated process cannot."""
    work = str(tmp_path / 'run')
    with work_dir_lock(work):
        child = subprocess.run(
            [sys.executable, '-c', _child_code(work, then='pass')],
            capture_output=True, text=True, cwd=REPO,
            env=_child_env(keep_locks=True), timeout=60)
        assert child.returncode == 0, child.stderr
        assert child.stdout.split() == ['locked', 'None']
        stranger = subprocess.run(
            [sys.executable, '-c', _child_code(work, then='pass')],
            capture_output=True, text=True, cwd=REPO, env=_child_env(),
            timeout=60)
        assert stranger.returncode != 0
        assert 'in use by another training' in stranger.stderr
        assert f'pid: {os.getpid()}' in stranger.stderr
    assert LOCKS_ENV not in os.environ  # restored on release


def _fake_runner(calls):

    class FakeRunner:

        @classmethod
        def from_cfg(cls, cfg):
            calls.append(('from_cfg', cfg.work_dir))
            return cls()

        def train(self):
            calls.append(('train', osp.isfile(
                osp.join(calls[0][1], LOCK_NAME))))

    return FakeRunner


def test_train_tool_refuses_a_locked_work_dir(tmp_path, monkeypatch,
                                              load_tool):
    train = load_tool('train.py')
    calls = []
    # tools/train.py imports the Runner inside main() (fast --help)
    import mmengine.runner
    monkeypatch.setattr(mmengine.runner, 'Runner', _fake_runner(calls))
    work = str(tmp_path / 'run')
    argv = [
        osp.join(REPO, 'configs/demo/byol_resnet18_1xb8-coslr-20i_demo.py'),
        '--work-dir', work
    ]
    with work_dir_lock(work):
        with pytest.raises(RuntimeError, match='in use by another training'):
            train.main(argv)
    assert calls == []  # not even the Runner (it dumps the config) was built
    train.main(argv)
    assert calls == [('from_cfg', work), ('train', True)]
    assert not osp.exists(osp.join(work, LOCK_NAME))
