# Copyright (c) mmscrl contributors. All rights reserved.
import numpy as np
import pytest
import torch

from mmscrl.orl.jobs import (ChunkedJob, StaleChunkError, ThrottledProgress,
                             array_digest, model_digest)


def _square(chunk, prog):
    if prog is not None:
        prog.update(chunk.end - chunk.start)
    return dict(x=np.arange(chunk.start, chunk.end) ** 2)


def test_chunked_job_resume_and_stale(tmp_path, capsys):
    job = ChunkedJob(str(tmp_path), 'sq', 7, 3, dict(p=1, q='a'), 'squares')
    assert [(c.start, c.end) for c in job.chunks] == [(0, 3), (3, 6), (6, 7)]
    assert job.run(_square) == 7
    assert job.run(_square) == 0  # all chunks found and verified
    got = np.concatenate([job.read(c)['x'] for c in job.chunks])
    np.testing.assert_array_equal(got, np.arange(7) ** 2)
    other = ChunkedJob(str(tmp_path), 'sq', 7, 3, dict(p=2, q='a', r=0))
    with pytest.raises(StaleChunkError) as e:
        other.pending()
    msg = str(e.value)
    assert 'p (chunk: 1, this run: 2)' in msg
    assert "r (chunk: '<unset>', this run: 0)" in msg and 'q (' not in msg
    with pytest.raises(StaleChunkError, match='p \\(chunk: 1'):
        other.read(other.chunks[0])
    other.overwrite_stale = True
    assert other.run(_square) == 7
    assert 'stale (p (chunk: 1' in capsys.readouterr().out


def test_chunked_job_ranks_split_the_chunks(tmp_path):
    jobs = [ChunkedJob(str(tmp_path), 'sq', 10, 2, {}, rank=r, world_size=3)
            for r in range(3)]
    mine = [[c.index for c in j.mine()] for j in jobs]
    assert mine == [[0, 3], [1, 4], [2]]
    assert sum(j.run(_square) for j in jobs) == 10


def test_chunked_job_refuses_chunks_without_fingerprint(tmp_path):
    job = ChunkedJob(str(tmp_path), 'sq', 2, 2, dict(p=1))
    np.savez(job.chunks[0].path, x=np.zeros(2), start=0, end=2)
    with pytest.raises(StaleChunkError, match='older mmscrl'):
        job.pending()


def test_throttled_progress(capsys):
    prog = ThrottledProgress(5, 'demo', interval=1e9, resumed=2)
    for _ in range(5):
        prog.update()
    out = capsys.readouterr().out
    assert '[demo] 5 to compute, 2 done earlier' in out
    assert out.count('5/5') == 1 and '1/5' not in out  # throttled
    ThrottledProgress(3, 'quiet', enabled=False).update()
    assert capsys.readouterr().out == ''


def test_digests():
    a = torch.nn.Linear(3, 2)
    d = model_digest(a)
    assert d == model_digest(a) and len(d) == 16
    with torch.no_grad():
        a.bias[0] += 1e-6
    assert model_digest(a) != d
    x = np.arange(6, dtype=np.float32)
    assert array_digest([x]) != array_digest([x.reshape(2, 3)])
