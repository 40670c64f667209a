# Copyright (c) mmscrl contributors. All rights reserved.
"""One training per work dir: an exclusive lock held while a run trains.

Two trainings started into the same work dir would each write
``iter_N.pth``, ``last_checkpoint`` and the config dump, so the second
silently replaces the first's checkpoints. :func:`work_dir_lock` takes an
exclusive ``fcntl.flock`` on ``<work_dir>/.mmscrl_train.lock`` (the file
records the holder's pid, host, start time and command line); a second
process that tries to lock the same work dir gets a ``RuntimeError`` that
names the holder.

The lock lives on an open file descriptor, so the kernel releases it when
the holder exits in any way, SIGKILL and crashes included: a lock file left
by a killed run never blocks the next one (its stale content is simply
overwritten). On a clean exit the file is removed.

Child processes of the holder (e.g. ``tools/train.py`` run by a workflow
that holds the lock of the same work dir) pass through: the holder lists
its work dir and pid in the ``MMSCRL_WORK_DIR_LOCKS`` environment variable,
which its children inherit; an entry whose process is gone is ignored. The
lock is not re-entrant within one process.

Distributed runs: only global rank 0 locks. The other ranks of the same
launch (``RANK`` / ``LOCAL_RANK`` > 0, or ``SLURM_PROCID`` /
``OMPI_COMM_WORLD_RANK`` > 0 before mmengine has set ``RANK``) share the
work dir legitimately and pass through without locking. ``flock`` works on
local file systems and on NFS (Linux emulates it with NFS byte-range
locks); where ``fcntl`` is missing (Windows) no lock is taken and a warning
says so.
"""
import contextlib
import errno
import os
import os.path as osp
import shlex
import socket
import sys
import time
import warnings
from typing import Iterator, Optional

__all__ = ['LOCK_NAME', 'LOCKS_ENV', 'work_dir_lock', 'launch_rank']

#: name of the lock file inside the work dir
LOCK_NAME = '.mmscrl_train.lock'
#: environment variable listing ``<work dir>=<pid>`` (one per line) of the
#: locks held by this process and its ancestors
LOCKS_ENV = 'MMSCRL_WORK_DIR_LOCKS'
# environment variables that carry a process's global rank, first the
# one torchrun and mmengine set, then those of the slurm / MPI launchers
_RANK_VARS = ('RANK', 'LOCAL_RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK')


def launch_rank() -> int:
    """The largest rank found in the launcher's environment variables
    (``RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``, ``OMPI_COMM_WORLD_RANK``);
    0 when none is set, i.e. for a process that is the first (or only) one
    of its launch.

    Returns:
        int: 0 for the process that must lock, > 0 for the others.
    """
    ranks = [0]
    for var in _RANK_VARS:
        value = os.environ.get(var, '').strip()
        if value.isdigit():
            ranks.append(int(value))
    return max(ranks)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _held_by_ancestor(key: str) -> Optional[int]:
    """The pid of a live other process that holds the lock of ``key`` (a
    real path) according to :data:`LOCKS_ENV`, or None."""
    for entry in os.environ.get(LOCKS_ENV, '').splitlines():
        path, _, pid = entry.rpartition('=')
        if (path == key and pid.isdigit() and int(pid) != os.getpid()
                and _alive(int(pid))):
            return int(pid)
    return None


def _holder_text() -> str:
    return (f'pid: {os.getpid()}\nhost: {socket.gethostname()}\n'
            f'started: {time.strftime("%Y-%m-%d %H:%M:%S %z")}\n'
            f'command: {shlex.join([sys.executable] + sys.argv)}\n')


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 65536).decode('utf-8', 'replace').strip()
    except OSError as e:
        return f'(its lock file cannot be read: {e})'
    if not text:
        return '(it is starting and has not written its details yet)'
    return ', '.join(line.strip() for line in text.splitlines())


def _acquire(path: str, fcntl) -> int:
    """Open and flock ``path``; the fd of the locked, current lock file."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN,
                               errno.EACCES):
                os.close(fd)
                raise
            holder = _read_holder(fd)
            os.close(fd)
            work_dir = osp.dirname(path)
            raise RuntimeError(
                f'work dir {work_dir} is in use by another training '
                f'({holder}; lock file {path}). A second run would replace '
                'its checkpoints and last_checkpoint. Wait until it '
                'finishes, stop it, or pass another --work-dir.') from None
        # the previous holder may have removed the file between our open
        # and our flock: then we hold a lock on a deleted file; retry
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def work_dir_lock(work_dir: str) -> Iterator[Optional[str]]:
    """Hold the exclusive training lock of ``work_dir`` (see the module
    docstring); create the folder if needed.

    Use it around everything that writes into the work dir (building the
    Runner dumps the config there; training writes checkpoints)::

        with work_dir_lock(cfg.work_dir):
            runner = Runner.from_cfg(cfg)
            runner.train()

    Args:
        work_dir (str): The run's work directory.

    Yields:
        str | None: The lock file path, or None where no lock is taken (a
        distributed rank other than 0, a child of the holder, or a
        platform without ``fcntl``).

    Raises:
        RuntimeError: Another process holds the lock; the message names
            the work dir and the holder's pid, host and command.
    """
    if launch_rank() > 0:
        yield None  # rank 0 of this launch holds the lock
        return
    key = osp.realpath(work_dir)
    if _held_by_ancestor(key) is not None:
        yield None  # a parent process holds it for us
        return
    try:
        import fcntl
    except ImportError:
        warnings.warn(f'work_dir_lock: no fcntl on this platform; {work_dir} '
                      'is not locked against a second training')
        yield None
        return
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    fd = _acquire(path, fcntl)
    env_before = os.environ.get(LOCKS_ENV)
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, _holder_text().encode('utf-8'))
        os.environ[LOCKS_ENV] = '\n'.join(
            filter(None, [env_before, f'{key}={os.getpid()}']))
        yield path
    finally:
        if env_before is None:
            os.environ.pop(LOCKS_ENV, None)
        else:
            os.environ[LOCKS_ENV] = env_before
        try:
            os.remove(path)  # still ours: we hold the lock on this inode
        except OSError:
            pass
        os.close(fd)  # releases the lock
