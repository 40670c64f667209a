# Copyright (c) mmscrl contributors. All rights reserved.
"""The demo (data generator, stage resets, ``--force``) removes or replaces
only files it recorded as its own; concurrent generators are serialised by
a lock; a killed generator's leftovers are cleaned up by the next run.

Issue 21, items 5, 6, 13 and 22.
"""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import types

import demo_workflow
import pytest
from demo_workflow import remove_demo_work_dir, run_train, write_results
from mmengine.config import Config

from mmscrl.demo import (DemoDataDirError, dataset_is_complete,
                         ensure_demo_dataset, generate_demo_dataset)

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
KW = dict(num_unlabeled=8, num_train=1, num_val=1, img_size=32, seed=0)


def _tree(root):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
        for f in fs)


# ---------------------------------------------------------------- item 5
def test_generator_keeps_user_file_named_like_its_own(tmp_path):
    """A user's ``unlabeled/000500.jpg`` in an 8-image set survives a
    regeneration with 9 images: the generator refuses and names it."""
    root = tmp_path / 'demo'
    generate_demo_dataset(str(root), **KW)
    user = root / 'unlabeled' / '000500.jpg'
    user.write_bytes(b'my own photo')
    with pytest.raises(DemoDataDirError, match=r'unlabeled/000500\.jpg'):
        ensure_demo_dataset(str(root), verbose=False,
                            **dict(KW, num_unlabeled=9))
    assert user.read_bytes() == b'my own photo'
    assert dataset_is_complete(str(root), **KW)  # nothing else changed
    user.unlink()  # once it is gone, the set is replaced
    ensure_demo_dataset(str(root), verbose=False, **dict(KW, num_unlabeled=9))
    assert dataset_is_complete(str(root), **dict(KW, num_unlabeled=9))


def test_generator_keeps_user_replacement_of_its_file(tmp_path):
    """A file the generator wrote and the user then replaced (same name,
    same size, mtime restored) is the user's: refused, named."""
    root = tmp_path / 'demo'
    generate_demo_dataset(str(root), **KW)
    path = root / 'train' / '000000.jpg'
    st = path.stat()
    mine = bytes(reversed(path.read_bytes()))
    path.write_bytes(mine)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(DemoDataDirError,
                       match=r'train/000000\.jpg.*changed'):
        generate_demo_dataset(str(root), **dict(KW, seed=1))
    assert path.read_bytes() == mine


def test_generator_refuses_old_marker_without_file_list(tmp_path):
    """A set whose marker records no file list (older mmscrl) is reused
    but never replaced: what it holds cannot be told apart."""
    root = tmp_path / 'demo'
    generate_demo_dataset(str(root), **KW)
    marker = root / '.mmscrl_demo_data'
    rec = json.loads(marker.read_text())
    marker.write_text(json.dumps(dict(written_by=rec['written_by'],
                                      version=rec['version'])))
    assert dataset_is_complete(str(root), **KW)
    with pytest.raises(DemoDataDirError, match='records no file list'):
        generate_demo_dataset(str(root), **dict(KW, seed=1))
    assert dataset_is_complete(str(root), **KW)


# ---------------------------------------------------------------- item 6
def _fake_train(cmd, cwd=None, env=None):
    """What ``tools/train.py`` leaves in its work dir (mmengine layout)."""
    wd = cmd[cmd.index('--work-dir') + 1]
    ts = osp.join(wd, '20260101_000000')
    os.makedirs(osp.join(ts, 'vis_data'), exist_ok=True)
    with open(osp.join(wd, 'iter_2.pth'), 'wb') as f:
        f.write(os.urandom(256))
    with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(wd, 'iter_2.pth'))
    with open(osp.join(wd, 'config.py'), 'a') as f:
        f.write('# dumped by the runner\n')
    for rel in ('20260101_000000.log', 'vis_data/scalars.json'):
        with open(osp.join(ts, rel), 'w') as f:
            f.write('{}\n')
    if env and env.get('FAKE_TRAIN_KILL'):
        os.kill(os.getpid(), signal.SIGKILL)  # the demo job is killed
    return subprocess.CompletedProcess(cmd, 0)


@pytest.fixture
def fake_train(monkeypatch):
    monkeypatch.setattr(demo_workflow, 'subprocess',
                        types.SimpleNamespace(run=_fake_train))
    return Config(dict(model=dict(type='X')))


def test_stage_reset_keeps_user_files(tmp_path, fake_train):
    stage = tmp_path / 'det_pretrained'
    run_train(fake_train, str(stage), dict(a=1))
    (stage / 'my_notes.txt').write_text('notes')
    before = _tree(stage)
    with pytest.raises(FileExistsError, match='my_notes.txt'):
        run_train(fake_train, str(stage), dict(a=2))  # other settings
    assert (stage / 'my_notes.txt').read_text() == 'notes'
    assert _tree(stage) == before  # nothing was deleted
    (stage / 'my_notes.txt').unlink()
    rec = run_train(fake_train, str(stage), dict(a=2))  # now it resets
    assert not rec['reused'] and osp.isfile(rec['checkpoint'])


def test_force_keeps_user_files_inside_stage_folders(tmp_path, fake_train):
    work = tmp_path / 'demo'
    run_train(fake_train, str(work / 'det_pretrained'), dict(a=1))
    run_train(fake_train, str(work / 'pretrain'), dict(a=1))
    write_results([dict(init='SCRL', bbox_mAP=0., bbox_mAP_50=0.,
                        detector_seconds=1.)], str(work), dict(x=1))
    notes = work / 'det_pretrained' / 'my_notes.txt'
    notes.write_text('notes')
    before = _tree(work)
    with pytest.raises(FileExistsError, match='my_notes.txt'):
        remove_demo_work_dir(str(work))
    assert _tree(work) == before
    # a changed result file is the user's too
    notes.unlink()
    (work / 'results.md').write_text('edited by me')
    with pytest.raises(FileExistsError, match=r'results\.md.*changed'):
        remove_demo_work_dir(str(work))
    (work / 'results.md').unlink()
    remove_demo_work_dir(str(work))
    assert os.listdir(work) == []


def test_force_keeps_a_copied_stage(tmp_path, fake_train):
    """A user's backup copy of a stage is not the demo's to delete."""
    work = tmp_path / 'demo'
    run_train(fake_train, str(work / 'pretrain'), dict(a=1))
    shutil.copytree(work / 'pretrain', work / 'pretrain_backup')
    with pytest.raises(FileExistsError, match='pretrain_backup'):
        remove_demo_work_dir(str(work))
    assert (work / 'pretrain_backup' / 'iter_2.pth').is_file()
    assert (work / 'pretrain' / 'iter_2.pth').is_file()


def test_killed_stage_outputs_are_adopted_user_files_kept(tmp_path):
    """The demo job killed while its training ran: the training's files are
    still recognised as the stage's; a user file is not."""
    stage = tmp_path / 'pretrain'
    script = textwrap.dedent(f"""
        import sys, types
        sys.path[:0] = [{HERE!r}, {osp.join(REPO, 'tools', 'demo')!r}]
        import demo_workflow
        from test_demo_ownership import _fake_train
        from mmengine.config import Config
        demo_workflow.subprocess = types.SimpleNamespace(run=_fake_train)
        demo_workflow.run_train(Config(dict(a=1)), {str(stage)!r},
                                dict(a=1), extra_env=dict(FAKE_TRAIN_KILL='1'))
    """)
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    assert (stage / 'iter_2.pth').is_file()
    (stage / 'my_notes.txt').write_text('notes')
    with pytest.raises(FileExistsError) as err:
        remove_demo_work_dir(str(tmp_path))
    msg = str(err.value)
    assert 'my_notes.txt' in msg and 'iter_2.pth' not in msg
    (stage / 'my_notes.txt').unlink()
    remove_demo_work_dir(str(tmp_path))
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------- items 13 and 22
_BIG = dict(num_unlabeled=100, num_train=0, num_val=0, img_size=32, seed=0)


def _start_generator(root):
    """A generator in another process, slowed to 50 ms per image so that it
    is still at work (holding the lock) whatever the machine's speed."""
    code = textwrap.dedent(f"""
        import sys, time
        from mmscrl.demo import generator
        render = generator.render_scene
        def slow(*args, **kwargs):
            time.sleep(0.05)
            return render(*args, **kwargs)
        generator.render_scene = slow
        generator.generate_demo_dataset(sys.argv[1], **{_BIG!r})
    """)
    return subprocess.Popen([sys.executable, '-c', code, str(root)],
                            cwd=REPO)


def _wait_for_images(parent, proc, n=3, timeout=60):
    """Wait until the generator's temporary folder holds ``n`` images."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, 'the generator ended too early'
        for name in os.listdir(parent):
            sub = osp.join(parent, name, 'unlabeled')
            if name.startswith('.demo_tmp_') and osp.isdir(sub) and \
                    len(os.listdir(sub)) >= n:
                return osp.join(parent, name)
        time.sleep(0.05)
    raise TimeoutError('the generator wrote no image')


def test_concurrent_generators_are_serialised(tmp_path, capfd):
    root = tmp_path / 'demo'
    first = _start_generator(root)
    try:
        _wait_for_images(tmp_path, first)
        ensure_demo_dataset(str(root), verbose=True,
                            **dict(KW, num_unlabeled=2))
        # the first one finished its data set undisturbed
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
    out = capfd.readouterr().out
    # the second waited for the first (naming it), then replaced its set
    assert f'in use by pid {first.pid}' in out and 'waiting' in out
    assert dataset_is_complete(str(root), **dict(KW, num_unlabeled=2))
    assert sorted(os.listdir(tmp_path)) == ['demo']


def test_busy_generator_refused_by_pid_then_killed_holder_released(
        tmp_path, capfd):
    root = tmp_path / 'demo'
    first = _start_generator(root)
    try:
        tmp = _wait_for_images(tmp_path, first)
        t0 = time.time()
        with pytest.raises(RuntimeError, match=f'pid {first.pid}'):
            generate_demo_dataset(str(root), lock_timeout=0.5, **KW)
        assert time.time() - t0 < 10
        first.send_signal(signal.SIGKILL)  # killed: lock and tmp left
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert osp.isdir(tmp)
    capfd.readouterr()
    t0 = time.time()
    ensure_demo_dataset(str(root), verbose=False, **KW)  # no hang
    assert time.time() - t0 < 20
    out = capfd.readouterr().out
    assert 'removed' in out and osp.basename(tmp) in out
    assert not osp.exists(tmp)
    assert sorted(os.listdir(tmp_path)) == ['demo']
    assert dataset_is_complete(str(root), **KW)


def test_leftovers_of_a_kill_during_the_swap_are_removed(tmp_path, capfd):
    """Killed between its two renames, the generator leaves the previous set
    moved aside and the new one in its temporary folder, ``out_dir``
    missing: the next run removes both (they hold only recorded files)."""
    root = tmp_path / 'demo'
    generate_demo_dataset(str(root), **KW)
    os.mkdir(tmp_path / '.demo_old_demo.k1ll3d')
    os.replace(root, tmp_path / '.demo_old_demo.k1ll3d' / 'd')
    generate_demo_dataset(str(tmp_path / 'new'), **dict(KW, seed=1))
    os.replace(tmp_path / 'new', tmp_path / '.demo_tmp_demo.k1ll3d')
    capfd.readouterr()
    ensure_demo_dataset(str(root), verbose=False, **KW)
    out = capfd.readouterr().out
    assert 'removed 2 folder(s)' in out
    assert sorted(os.listdir(tmp_path)) == ['demo']
    assert dataset_is_complete(str(root), **KW)


def test_unrecognised_tmp_folder_is_kept_and_reported(tmp_path, capfd):
    """A ``.demo_tmp_*`` folder without the generator's marker (another
    tool's, an older mmscrl's) is left alone, and the run says so."""
    other = tmp_path / '.demo_tmp_mine'
    other.mkdir()
    (other / 'keep.txt').write_text('x')
    ensure_demo_dataset(str(tmp_path / 'demo'), verbose=False, **KW)
    assert (other / 'keep.txt').read_text() == 'x'
    out = capfd.readouterr().out
    assert '.demo_tmp_mine' in out and 'kept' in out


def test_read_only_place_still_reuses_a_finished_set(tmp_path, monkeypatch,
                                                     capfd):
    """The lock file cannot be created (read-only mount): a finished set
    is still used; generating says what is wrong."""
    import errno

    from mmscrl.demo import generator
    root = tmp_path / 'demo'
    generate_demo_dataset(str(root), **KW)

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, 'Read-only file system', path)

    monkeypatch.setattr(generator, 'demo_lock', read_only)
    ensure_demo_dataset(str(root), verbose=True, **KW)
    assert 'reading only' in capfd.readouterr().out
    with pytest.raises(OSError, match='needs a writable folder'):
        ensure_demo_dataset(str(root), verbose=True, **dict(KW, seed=1))
