# Copyright (c) mmscrl contributors. All rights reserved.
"""The one atomic-write helper (``mmscrl.utils.fileio``)."""
import json
import os
import subprocess
import sys

import pytest

from mmscrl.utils.fileio import (atomic_write, atomic_write_bytes,
                                 atomic_write_json, atomic_write_text,
                                 part_path)


def test_writes_and_creates_folder(tmp_path):
    path = tmp_path / 'a' / 'b' / 'f.json'
    atomic_write_json(str(path), dict(x=1), indent=2)
    assert json.loads(path.read_text()) == dict(x=1)
    atomic_write_text(str(path), 'new')
    assert path.read_text() == 'new'
    atomic_write_bytes(str(path), b'\x00\x01')
    assert path.read_bytes() == b'\x00\x01'
    assert sorted(os.listdir(path.parent)) == ['f.json']


@pytest.mark.parametrize('exc', [RuntimeError, KeyboardInterrupt])
def test_failed_write_keeps_old_file(tmp_path, exc):
    path = tmp_path / 'f.bin'
    atomic_write_bytes(str(path), b'old')

    def write(f):
        f.write(b'partial')
        raise exc('killed mid-write')

    with pytest.raises(exc):
        atomic_write(str(path), write)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['f.bin']  # no temporary file left


def test_leftovers_of_dead_writers_removed(tmp_path):
    path = tmp_path / 'f.bin'
    # a writer that no longer exists (its pid has been reaped)
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    dead = part_path(str(path), proc.pid)
    open(dead, 'wb').close()
    # a writer still running (this process) keeps its temporary file
    alive = part_path(str(path), os.getppid())
    open(alive, 'wb').close()
    atomic_write_bytes(str(path), b'x')
    left = sorted(os.listdir(tmp_path))
    assert os.path.basename(dead) not in left
    assert os.path.basename(alive) in left
    assert 'f.bin' in left
