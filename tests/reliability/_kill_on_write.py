# Copyright (c) mmscrl contributors. All rights reserved.
"""Test helper: SIGKILL this process half-way through writing a file.

``kill_while_writing(NAME)`` makes the first ``open(..., 'w*')`` of a file
whose name contains ``NAME`` write half of the first chunk, fsync it and
SIGKILL the process (a real kill: no Python cleanup runs). Importing the
module does the same when ``MMSCRL_TEST_KILL_WRITING=NAME`` is set, so a
config can load it with ``custom_imports`` in a ``tools/train.py`` run.
"""
import builtins
import os
import signal

ENV = 'MMSCRL_TEST_KILL_WRITING'


def kill_while_writing(target: str) -> None:
    real_open = builtins.open

    class HalfWriter:

        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            os.fsync(self.f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

    def fake_open(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if target in os.path.basename(str(file)) and 'w' in mode:
            return HalfWriter(f)
        return f

    builtins.open = fake_open


if os.environ.get(ENV):
    kill_while_writing(os.environ[ENV])
