# Copyright (c) mmscrl contributors. All rights reserved.
"""An exclusive, kill-safe lock on a demo folder (``fcntl.flock``).

The lock is a file (its holder's pid inside, for messages). ``flock`` locks
belong to the open file, so the kernel releases them when the holder exits
for any reason, SIGKILL included: a killed holder never blocks a later run.
The holder deletes the lock file when it releases the lock; a waiter that
got the lock on a file that was deleted meanwhile (its inode is no longer
the one at the path) retries on the new file, so two processes never hold
the same path at once.
"""
import contextlib
import errno
import fcntl
import os
import os.path as osp
import time
from typing import Callable, Iterator, Optional

__all__ = ['DemoBusyError', 'demo_lock', 'lock_holder']


class DemoBusyError(RuntimeError):
    """Another process holds the lock of a demo folder."""


def lock_holder(lock_path: str) -> Optional[int]:
    """The pid written in ``lock_path`` by its holder, or None."""
    try:
        with open(lock_path) as f:
            return int(f.read().strip() or 'x')
    except (OSError, ValueError):
        return None


def _try_lock(lock_path: str) -> Optional[int]:
    """Open ``lock_path`` and take its lock; the fd, or None if busy."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    try:  # the file may have been deleted by its last holder meanwhile
        same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)  # releases the lock on the deleted file; retry
        return -1
    return fd


@contextlib.contextmanager
def demo_lock(lock_path: str,
              what: str,
              timeout: Optional[float] = None,
              poll: float = 0.2,
              log: Callable[[str], None] = print) -> Iterator[str]:
    """Hold the exclusive lock ``lock_path`` while the block runs.

    Args:
        lock_path (str): The lock file (created; deleted on release).
        what (str): What is locked, for messages (e.g. ``'demo data
            data/demo'``).
        timeout (float, optional): Seconds to wait for another holder;
            None waits as long as it takes, 0 refuses at once.
            Defaults to None.
        poll (float): Seconds between tries. Defaults to 0.2.
        log (callable): Where the "waiting for pid N" message goes.
            Defaults to :func:`print`.

    Yields:
        str: ``lock_path``.

    Raises:
        DemoBusyError: Another process still holds the lock after
            ``timeout`` seconds (its pid is named).
    """
    os.makedirs(osp.dirname(osp.abspath(lock_path)), exist_ok=True)
    t0 = time.monotonic()
    told = False
    while True:
        fd = _try_lock(lock_path)
        if fd is not None and fd >= 0:
            break
        if fd is None:
            pid = lock_holder(lock_path)
            holder = f'pid {pid}' if pid is not None else 'another process'
            waited = time.monotonic() - t0
            if timeout is not None and waited >= timeout:
                raise DemoBusyError(
                    f'{what} is in use by {holder} (lock {lock_path}); '
                    f'waited {waited:.1f} s. Wait for that process to end '
                    'or stop it, then run again (the lock is released '
                    'when it exits, even if it is killed).')
            if not told:
                log(f'[demo] {what} is in use by {holder} (lock '
                    f'{lock_path}); waiting for it to finish...')
                told = True
        time.sleep(0 if fd == -1 else poll)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f'{os.getpid()}\n'.encode())
        yield lock_path
    finally:
        try:
            os.remove(lock_path)  # before unlocking: see the module doc
        except FileNotFoundError:
            pass
        os.close(fd)
