# Copyright (c) mmscrl contributors. All rights reserved.
"""Atomic file writes: the one helper every mmscrl writer goes through.

A reader of ``path`` sees either the old file or the new one, whole: the new
content goes to a hidden temporary file in the same folder
(``.<name>.<pid>.part``), is flushed and fsynced, and is renamed over
``path`` with :func:`os.replace` (atomic on POSIX and Windows); the folder is
fsynced too where the OS allows, so the rename survives a power loss. On any
exception, ``KeyboardInterrupt`` and ``SystemExit`` included, the temporary
file is removed and ``path`` is left as it was; an ``OSError`` (a full disk,
a quota) is re-raised with the same errno and a message that names ``path``.
A writer killed with SIGKILL leaves at most its ``.part`` file, never a
partial ``path``; the next successful write of the same ``path`` removes
such leftovers of writers that are no longer running.

Checkpoints (:mod:`mmscrl.compat`), ORL stage-2 chunks and results
(:mod:`mmscrl.orl.jobs`), the demo data set, demo stage records, converted
backbones and benchmark reports all use it.
"""
import errno
import glob
import json
import os
import os.path as osp
from typing import Any, Callable

__all__ = [
    'refuse_overwriting_input',
    'atomic_write', 'atomic_write_bytes', 'atomic_write_text',
    'atomic_write_json', 'part_path', 'remove_stale_parts'
]


def part_path(path: str, pid: int = None) -> str:
    """The temporary file :func:`atomic_write` uses for ``path``.

    Args:
        path (str): Destination file.
        pid (int, optional): Process id; defaults to this process's.

    Returns:
        str: ``<folder>/.<name>.<pid>.part``.
    """
    folder, name = osp.split(osp.abspath(str(path)))
    return osp.join(folder, f'.{name}.{os.getpid() if pid is None else pid}'
                    '.part')


def remove_stale_parts(path: str) -> None:
    """Remove ``.<name>.<pid>.part`` files of ``path`` left by writers
    that were killed (their process no longer exists)."""
    folder, name = osp.split(osp.abspath(str(path)))
    for part in glob.glob(osp.join(folder, f'.{glob.escape(name)}.*.part')):
        pid = part[:-len('.part')].rsplit('.', 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that writer is still running
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            os.remove(part)
        except OSError:
            pass


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_part(tmp: str) -> bool:
    """Remove the temporary file of a failed write; whether it is gone."""
    try:
        os.remove(tmp)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def _named_write_error(err: OSError, path: str, tmp: str,
                       removed: bool) -> OSError:
    """``err`` (same errno, hence the same ``OSError`` subclass) with a
    message that names the file being written and what was cleaned up."""
    reason = err.strerror or os.strerror(err.errno)
    where = '' if err.filename in (None, path, tmp) else (
        f' ({err.filename})')
    cleanup = (f'the temporary file {tmp} was removed' if removed else
               f'the temporary file {tmp} could not be removed; delete it')
    hint = ('; free disk space or write to another folder'
            if err.errno in (errno.ENOSPC, errno.EDQUOT) else '')
    return OSError(
        err.errno, f'{reason}{where} while writing {path}: {path} was left '
        f'as it was and {cleanup}{hint}', path)


def atomic_write(path: str, write_fn: Callable[[Any], None],
                 mode: str = 'wb') -> str:
    """Call ``write_fn(fileobj)`` on a temporary file, then move it to
    ``path`` atomically (see the module docstring).

    Args:
        path (str): Destination file; its folder is created if missing.
        write_fn (callable): Writes the content to the open file object it
            is given (e.g. ``lambda f: np.savez(f, **arrays)``).
        mode (str): ``open`` mode of the temporary file, ``'wb'`` or
            ``'w'``. Defaults to ``'wb'``.

    Returns:
        str: The absolute destination path.

    Raises:
        OSError: Writing, syncing or renaming failed (e.g. ``ENOSPC``, a
            full disk). It has the errno (hence the ``OSError`` subclass)
            of the original error, ``filename`` set to ``path``, and a
            message naming ``path`` and saying that the temporary file was
            removed; the original error is its ``__cause__``. Other
            exceptions are re-raised unchanged (the temporary file is
            removed all the same).
    """
    path = osp.abspath(str(path))
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = part_path(path)
    try:
        with open(tmp, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        removed = _remove_part(tmp)
        if isinstance(e, OSError) and e.errno is not None:
            raise _named_write_error(e, path, tmp, removed) from e
        raise
    remove_stale_parts(path)
    _fsync_folder(folder)
    return path


def atomic_write_bytes(path: str, data: bytes) -> str:
    """Write ``data`` (bytes) to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data), 'wb')


def atomic_write_text(path: str, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(
        path, lambda f: f.write(text.encode('utf-8')), 'wb')


def atomic_write_json(path: str, obj: Any, **dump_kwargs) -> str:
    """:func:`json.dump` ``obj`` to ``path`` atomically.

    Args:
        path (str): Destination file.
        obj: A JSON-serialisable object.
        **dump_kwargs: Passed to :func:`json.dumps` (e.g. ``indent=2``).
    """
    return atomic_write_text(path, json.dumps(obj, **dump_kwargs))


def refuse_overwriting_input(output: str, *inputs: str) -> None:
    """Raise ``ValueError`` when ``output`` is one of ``inputs`` (the same
    file by path, symlink or hard link): no tool writes over its own input.

    Args:
        output (str): The file a tool is about to write.
        *inputs (str): The files it reads (URLs and missing files are
            compared by their absolute path only).
    """
    out_real = os.path.realpath(output)
    for src in inputs:
        if src is None or '://' in str(src):
            continue
        same = os.path.realpath(src) == out_real
        if not same and os.path.exists(src) and os.path.exists(output):
            same = os.path.samefile(src, output)
        if same:
            raise ValueError(
                f'refusing to write {output}: it is the input file {src}; '
                'choose another output name')
