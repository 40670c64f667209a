# Copyright (c) mmscrl contributors. All rights reserved.
"""Worker processes of the ORL stage-2 tools die with their parent.

``tools/orl/selective_search.py --workers 2`` is killed with SIGKILL while
its two pool workers are busy with one chunk of 48 small images each
(seconds of work); the workers must be gone within 3 s, i.e. after at most
the image in progress (before: each finished its chunk and every chunk
already queued in the pool's pipe, minutes at COCO scale, and only then saw
the closed pipe).
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import psutil

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))


def _alive(pids):
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_pool_workers_die_with_parent(tmp_path):
    import cv2
    data = tmp_path / 'images'
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(96):  # small noisy images: a fraction of a second each
        img = rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)
        cv2.imwrite(str(data / f'{i:03d}.png'), img)
    work = tmp_path / 'parts'
    proc = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'orl', 'selective_search.py'),
         '--data-root', str(data), '--out', str(tmp_path / 'ss.npz'),
         '--work-dir', str(work), '--workers', '2', '--chunk-size', '48'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    children = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until the workers are busy
            children = [c.pid for c in psutil.Process(proc.pid).children()]
            if len(children) >= 2:
                break
            assert proc.poll() is None, 'tool exited before the kill'
            time.sleep(0.1)
        assert len(children) >= 2, 'no pool workers seen'
        time.sleep(1.)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.time() + 3
        while _alive(children) and time.time() < deadline:
            time.sleep(0.2)
        left = _alive(children)
    finally:
        for pid in _alive(children):
            os.kill(pid, signal.SIGKILL)  # never leave them behind
        if proc.poll() is None:
            proc.kill()
    assert not left, f'workers {left} outlived their killed parent'
    assert len([f for f in os.listdir(work) if f.endswith('.npz')]) < 2
    # no temporary file left behind by a worker that was mid-write
    assert not [f for f in os.listdir(work)
                if f.endswith(('.tmp', '.part'))]
