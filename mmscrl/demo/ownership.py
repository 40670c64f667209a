# Copyright (c) mmscrl contributors. All rights reserved.
"""What the demo wrote, and the one rule for deleting: only that.

The demo data generator (:mod:`mmscrl.demo.generator`) and the demo job's
stage folders (``tools/demo/demo_workflow.py``) record every file they
write, with its size and SHA-256. A folder is reset, replaced or removed
only if everything in it is such a file, unchanged; anything else -- a
file the demo did not write, a file it wrote that was changed since, a
symlink, an unknown sub-folder, a copy of a demo folder made by the user --
makes the operation refuse with :class:`ForeignFilesError`, naming the
entries, before anything is deleted.

A folder written this way holds a manifest, :data:`MANIFEST`::

    {"written_by": "mmscrl.demo.ownership", "root": <real path>,
     "what": "demo stage", "files": {rel: {"size": n, "sha256": h}},
     "dirs": [rel, ...], "writer": null | {...}}

``root`` is the folder's real path when the manifest was made: a copy or a
moved folder no longer matches it, so its files count as the user's.

Files written by a subprocess (a training run, an ORL stage-2 tool) are
recorded by :meth:`OwnedFolder.begin_writer` / :meth:`OwnedFolder.end_writer`
around it: the files that appeared or changed while it ran *and* whose
relative path matches the writer's patterns (e.g.
:data:`TRAINING_RUN_OUTPUTS`). If the demo job itself is killed while the
subprocess runs, ``end_writer`` never runs: the manifest still holds the
writer's record, and the next look at the folder adopts that writer's
outputs by the same rule first. A user file dropped into the folder meanwhile
is adopted only if it is named like the writer's outputs (e.g. ``*.pth``)
and was written after the writer started.
"""
import hashlib
import json
import os
import os.path as osp
import re
import time
from typing import Dict, Iterable, List, Optional, Sequence

from mmscrl.utils.fileio import atomic_write_json

from .lock import demo_lock

__all__ = [
    'MANIFEST', 'LOCK_FILE', 'TRAINING_RUN_OUTPUTS', 'ORL_STAGE2_OUTPUTS',
    'ForeignFilesError', 'file_record', 'find_foreign', 'remove_recorded',
    'OwnedFolder', 'format_foreign'
]

#: Manifest of a folder the demo writes into.
MANIFEST = '.mmscrl_demo_owned.json'
#: Lock file of such a folder while a demo process works in it.
LOCK_FILE = '.mmscrl_demo_lock'
_TAG = 'mmscrl.demo.ownership'
_SKIP = (MANIFEST, LOCK_FILE)
#: What ``tools/train.py`` (mmengine + mmscrl's atomic saves) writes into
#: its work dir: the dumped config, checkpoints, ``last_checkpoint``, their
#: ``.<name>.<pid>.part`` temporaries, the ``<timestamp>/`` log folder and
#: the work-dir lock file a killed training leaves.
TRAINING_RUN_OUTPUTS = (
    r'config\.py',
    r'\.mmscrl_train\.lock',
    r'last_checkpoint',
    r'[^/]+\.pth',
    r'\.[^/]+\.\d+\.part',
    r'\d{8}_\d{6}(/.*)?',
)
#: What the ORL stage-2 tools (``tools/orl/``) write into the demo's
#: ``orl_stage2/`` folder: their outputs, ``.part`` temporaries and
#: ``<out>.parts/`` chunk folders.
ORL_STAGE2_OUTPUTS = (
    r'(knn|proposals|correspondence)\.npz(\.parts(/.*)?|\.inputs\.json)?',
    r'\.(knn|proposals|correspondence)\.npz\.\d+\.part',
)
_BLOCK = 1 << 20


class ForeignFilesError(FileExistsError):
    """A folder holds entries the demo did not write; nothing was deleted.

    Attributes:
        entries (list[str]): ``'<path> (<reason>)'`` for each entry.
    """

    def __init__(self, message: str, entries: Sequence[str] = ()):
        super().__init__(message)
        self.entries = list(entries)


def file_record(path: str) -> Dict:
    """Size and SHA-256 of the file ``path`` (``{'size', 'sha256'}``)."""
    h = hashlib.sha256()
    size = 0
    with open(path, 'rb') as f:
        while True:
            block = f.read(_BLOCK)
            if not block:
                break
            size += len(block)
            h.update(block)
    return dict(size=size, sha256=h.hexdigest())


def _changed(path: str, rec: Dict) -> Optional[str]:
    """Why ``path`` is not the file ``rec`` describes, or None."""
    if osp.islink(path) or not osp.isfile(path):
        return 'replaced by something that is not a plain file'
    if os.stat(path).st_size != rec.get('size'):
        return 'changed since the demo wrote it (other size)'
    if file_record(path)['sha256'] != rec.get('sha256'):
        return 'changed since the demo wrote it (other content)'
    return None


def find_foreign(root: str,
                 files: Dict[str, Dict],
                 dirs: Iterable[str] = (),
                 skip: Iterable[str] = ()) -> List[str]:
    """Entries of ``root`` that the records do not account for.

    A sub-folder holding its own valid :data:`MANIFEST` for exactly that
    path (a nested :class:`OwnedFolder`) is checked against it.

    Args:
        root (str): The folder.
        files (dict): ``{relative path: file_record}`` of the files written.
        dirs (Iterable[str]): Relative paths of the folders written.
        skip (Iterable[str]): Names in ``root`` itself to ignore (its
            manifest, marker or lock file).

    Returns:
        list[str]: ``'<path> (<reason>)'`` for each entry that is not one of
        the recorded files, unchanged; empty if there is none.
    """
    dirs = set(dirs)
    for rel in files:  # parents of recorded files are recorded too
        parent = osp.dirname(rel)
        while parent:
            dirs.add(parent)
            parent = osp.dirname(parent)
    skip = set(skip)
    foreign = []

    def walk(rel_dir):
        path = osp.join(root, rel_dir) if rel_dir else root
        for name in sorted(os.listdir(path)):
            if not rel_dir and name in skip:
                continue
            rel = osp.join(rel_dir, name) if rel_dir else name
            full = osp.join(root, rel)
            if osp.islink(full):
                foreign.append(f'{full} (a symlink the demo did not make)')
            elif osp.isdir(full):
                child = OwnedFolder(full)
                if rel not in dirs and child.is_owned():
                    foreign.extend(child.foreign())
                elif rel in dirs:
                    walk(rel)
                else:
                    foreign.append(f'{full}/ (a folder the demo did not '
                                   'write)')
            elif rel in files:
                why = _changed(full, files[rel])
                if why:
                    foreign.append(f'{full} ({why})')
            else:
                foreign.append(f'{full} (not written by the demo)')

    if osp.isdir(root) and not osp.islink(root):
        walk('')
    return foreign


def format_foreign(what: str, root: str, foreign: Sequence[str],
                   action: str, advice: str) -> str:
    """The message of :class:`ForeignFilesError` (up to 8 entries)."""
    shown = '; '.join(foreign[:8]) + ('; ...' if len(foreign) > 8 else '')
    return (f'{what} {root} holds entries the demo did not write or that '
            f'changed since it wrote them ({len(foreign)}): {shown}. '
            f'Refusing to {action}; nothing was deleted. {advice}')


def remove_recorded(root: str,
                    files: Dict[str, Dict],
                    dirs: Iterable[str] = (),
                    skip: Iterable[str] = ()) -> List[str]:
    """Delete the recorded files and folders of ``root`` (not ``root``).

    Call :func:`find_foreign` first: this deletes only recorded files that
    are unchanged, recorded folders that are then empty, and nested
    :class:`OwnedFolder` folders by their own records.

    Args:
        root (str): The folder.
        files (dict): ``{relative path: file_record}``.
        dirs (Iterable[str]): Relative paths of recorded folders.
        skip (Iterable[str]): Names in ``root`` to leave alone.

    Returns:
        list[str]: What was left in place, each ``'<path> (<reason>)'``
        (it changed or appeared after the check); empty normally.
    """
    for rel in sorted(files):
        path = osp.join(root, rel)
        if osp.lexists(path) and _changed(path, files[rel]) is None:
            os.remove(path)
    all_dirs = set(dirs)
    for rel in files:
        parent = osp.dirname(rel)
        while parent:
            all_dirs.add(parent)
            parent = osp.dirname(parent)
    skip = set(skip)
    for parent_rel in [''] + sorted(all_dirs):
        parent = osp.join(root, parent_rel) if parent_rel else root
        if not osp.isdir(parent) or osp.islink(parent):
            continue
        for name in sorted(os.listdir(parent)):
            rel = osp.join(parent_rel, name) if parent_rel else name
            full = osp.join(root, rel)
            if (not parent_rel and name in skip) or rel in all_dirs or \
                    osp.islink(full) or not osp.isdir(full):
                continue
            if OwnedFolder(full).is_owned():
                OwnedFolder(full).remove()
    for rel in sorted(all_dirs, key=lambda r: -r.count(os.sep)):
        try:
            os.rmdir(osp.join(root, rel))
        except OSError:  # not empty: reported below
            pass
    remaining = [r for r in all_dirs if osp.isdir(osp.join(root, r))]
    return find_foreign(root, files, remaining, skip)


def _snapshot(root: str) -> Dict[str, List[int]]:
    """``{rel: [size, mtime_ns]}`` of every file under ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
                       if not osp.islink(osp.join(dirpath, d))]
        for name in filenames:
            full = osp.join(dirpath, name)
            rel = osp.relpath(full, root)
            if rel in _SKIP or osp.islink(full):
                continue
            st = os.stat(full)
            out[rel] = [st.st_size, st.st_mtime_ns]
    return out


class OwnedFolder:
    """A folder the demo writes into, with the record of what it wrote.

    Args:
        root (str): The folder.
        what (str): What it is, for messages (e.g. ``'demo stage'``).
            Defaults to ``'demo folder'``.
    """

    def __init__(self, root: str, what: str = 'demo folder'):
        self.root = osp.abspath(root)
        self.what = what
        self.path = osp.join(self.root, MANIFEST)

    # -- the manifest -----------------------------------------------------
    def _read(self) -> Optional[Dict]:
        try:
            with open(self.path) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get('written_by') != _TAG:
            return None
        return rec

    def is_owned(self) -> bool:
        """Whether the folder holds a valid manifest made for this path
        (not a copy or a moved folder)."""
        rec = self._read()
        return rec is not None and rec.get('root') == osp.realpath(self.root)

    def load(self) -> Dict:
        """The manifest; an empty one when there is none or it was made for
        another path (copied or moved folder: its files are not ours)."""
        rec = self._read()
        if rec is None or rec.get('root') != osp.realpath(self.root):
            rec = dict(written_by=_TAG, root=osp.realpath(self.root),
                       what=self.what, files={}, dirs=[], writer=None)
        return rec

    def _save(self, rec: Dict) -> None:
        os.makedirs(self.root, exist_ok=True)
        atomic_write_json(self.path, rec)

    def lock(self, timeout: Optional[float] = 0, log=print):
        """The folder's exclusive lock (:func:`~.lock.demo_lock` on its
        :data:`LOCK_FILE`; the folder is created if needed).

        Args:
            timeout (float, optional): Seconds to wait for another holder;
                0 refuses at once, None waits. Defaults to 0.
            log (callable): Where a "waiting" message goes. Defaults to
                :func:`print`.

        Returns:
            A context manager; it raises :class:`~.lock.DemoBusyError`
            naming the holder's pid when the folder stays busy.
        """
        os.makedirs(self.root, exist_ok=True)
        return demo_lock(osp.join(self.root, LOCK_FILE),
                         f'{self.what} {self.root}', timeout=timeout, log=log)

    # -- recording --------------------------------------------------------
    def claim(self, *rels: str) -> None:
        """Record files (or folders) the caller has just written.

        Args:
            *rels (str): Paths relative to the folder; a file is recorded
                with its size and SHA-256, a folder by its name.
        """
        rec = self.load()
        for rel in rels:
            full = osp.join(self.root, rel)
            if osp.isdir(full) and not osp.islink(full):
                if rel not in rec['dirs']:
                    rec['dirs'].append(rel)
            else:
                rec['files'][rel] = file_record(full)
        self._save(rec)

    def begin_writer(self, patterns: Sequence[str]) -> None:
        """A subprocess is about to write into the folder.

        Args:
            patterns (Sequence[str]): Regular expressions (full match) of
                the relative paths it writes, e.g.
                :data:`TRAINING_RUN_OUTPUTS`.
        """
        rec = self.load()
        if rec.get('writer'):
            self._adopt(rec)
        rec['writer'] = dict(patterns=list(patterns),
                             started_ns=time.time_ns(),
                             before=_snapshot(self.root))
        self._save(rec)

    def end_writer(self, log=print) -> List[str]:
        """Record what the subprocess of :meth:`begin_writer` wrote.

        Files that appeared or changed meanwhile but are not named like
        its outputs are not recorded (they are the user's); they are
        listed in a message.

        Returns:
            list[str]: Relative paths of the files recorded.
        """
        rec = self.load()
        adopted = self._adopt(rec, log=log)
        self._save(rec)
        return adopted

    def _adopt(self, rec: Dict, log=None) -> List[str]:
        writer = rec.get('writer') or None
        rec['writer'] = None
        for rel in [r for r in rec['files']
                    if not osp.isfile(osp.join(self.root, r))]:
            del rec['files'][rel]  # e.g. an outdated checkpoint deleted
        if not writer:
            return []
        pats = [re.compile(p) for p in writer['patterns']]
        before = writer.get('before', {})
        t0 = int(writer['started_ns']) - 2 * 10**9  # mtime granularity
        adopted, unknown = [], []
        for rel, (size, mtime) in sorted(_snapshot(self.root).items()):
            if before.get(rel) == [size, mtime] or mtime < t0:
                continue
            if any(p.fullmatch(rel) for p in pats):
                rec['files'][rel] = file_record(osp.join(self.root, rel))
                adopted.append(rel)
            elif rel not in rec['files']:
                unknown.append(rel)
        for dirpath, dirnames, _ in os.walk(self.root):
            dirnames[:] = [d for d in dirnames
                           if not osp.islink(osp.join(dirpath, d))]
            for d in dirnames:
                rel = osp.relpath(osp.join(dirpath, d), self.root)
                if rel not in rec['dirs'] and any(
                        p.fullmatch(rel) for p in pats):
                    rec['dirs'].append(rel)
        if unknown and log is not None:
            log(f'[demo] {len(unknown)} file(s) appeared in {self.root} '
                'while the demo wrote into it and are not named like its '
                'outputs; they are left alone and count as yours: '
                + ', '.join(unknown[:8]) + (' ...' if len(unknown) > 8
                                            else ''))
        return adopted

    # -- checking and removing --------------------------------------------
    def _current(self) -> Dict:
        """The manifest, with the outputs of a writer that never ended (the
        demo job was killed) recorded first."""
        rec = self.load()
        if rec.get('writer'):
            self._adopt(rec, log=print)
            if osp.isfile(self.path):
                self._save(rec)
        return rec

    def foreign(self) -> List[str]:
        """Entries of the folder the demo did not write (see
        :func:`find_foreign`)."""
        if not osp.isdir(self.root):
            return []
        rec = self._current()
        moved = self._read()
        if moved is not None and moved.get('root') != rec['root']:
            note = (f' (its {MANIFEST} was made for '
                    f'{moved.get("root")}: a copy or a moved folder)')
            return [f'{self.root}/{note}']
        return find_foreign(self.root, rec['files'], rec['dirs'], _SKIP)

    def check(self, action: str, advice: str) -> None:
        """Raise :class:`ForeignFilesError` if :meth:`foreign` finds any."""
        foreign = self.foreign()
        if foreign:
            raise ForeignFilesError(
                format_foreign(self.what, self.root, foreign, action,
                               advice), foreign)

    def remove(self, remove_root: bool = True,
               locked: bool = False) -> List[str]:
        """Delete what the demo wrote here (call :meth:`check` first).

        Args:
            remove_root (bool): Also remove the folder itself when it is
                then empty. Defaults to True.
            locked (bool): The caller holds the folder's :meth:`lock`;
                otherwise it is taken here (refused at once if another
                process holds it). Defaults to False.

        Returns:
            list[str]: Entries left in place (see :func:`remove_recorded`).

        Raises:
            DemoBusyError: Another process works in the folder.
        """
        if not osp.isdir(self.root):
            return []
        if locked:
            left = self._remove()
        else:
            with self.lock(timeout=0):
                left = self._remove()
        if remove_root:
            try:
                os.rmdir(self.root)
            except OSError:
                pass
        return left

    def _remove(self) -> List[str]:
        rec = self._current()
        left = remove_recorded(self.root, rec['files'], rec['dirs'], _SKIP)
        if osp.isfile(self.path):
            os.remove(self.path)
        return left
