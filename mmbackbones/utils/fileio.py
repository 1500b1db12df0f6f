"""Files and folders that are never half-written: the one writer of checkpoints, exports, curves,
PNGs, JSON tables and dataset folders.

Everything is written under a temporary name next to its destination, synced, and renamed over
it (one ``os.replace``, atomic on POSIX). The temporary name is ``<name>.tmp<pid>`` (or
``<name>.tmp<pid><ext>`` for writers that choose the format from the extension), the one
:func:`remove_stale_temp_files` recognises: what a killed process left in a work dir or beside a
dataset folder is deleted by the next run that writes there; a live process's file is kept.

A write that fails (a full disk, a quota, a permission) raises :class:`FileWriteError`, an
``OSError`` naming the destination, after removing the temporary file; the destination keeps its
previous content (or stays absent).
"""
from __future__ import annotations

import contextlib
import errno
import os
import os.path as osp
import re
import shutil
from collections.abc import Callable, Iterator
from typing import Any

#: ``<name>.tmp<pid>`` or ``<name>.tmp<pid>.<ext>``: what :func:`temp_path` makes.
TEMP_NAME = re.compile(r'.+\.tmp(\d+)(\.[A-Za-z0-9]+)?$')


class FileWriteError(OSError):
    """Writing a file failed; the message names it and says that its old content is intact."""


def temp_path(path: str, keep_ext: bool = False) -> str:
    """The temporary name that this process writes ``path`` under before renaming it."""
    return f'{path}.tmp{os.getpid()}' + (osp.splitext(path)[1] if keep_ext else '')


def _write_failed(path: str, err: OSError) -> FileWriteError:
    code = err.errno
    why = os.strerror(code) if code else str(err)
    if code == errno.ENOSPC:
        why += ' (the disk or file system is full)'
    return FileWriteError(code or errno.EIO,
                          f'could not write {path}: {why}; {path} keeps its previous content '
                          f'(or stays absent) and no temporary file is left. Cause: {err}')


@contextlib.contextmanager
def atomic_write_path(path: str, keep_ext: bool = False) -> Iterator[str]:
    """A temporary path next to ``path``; when the block ends without an error, the file written
    there is synced and replaces ``path``, otherwise it is deleted.

    Args:
        path: The file to write.
        keep_ext: End the temporary name with ``path``'s extension (writers that choose the
            format from it, like matplotlib's ``savefig``).

    Raises:
        FileWriteError: Writing, syncing or renaming failed (``ENOSPC``, ...).

    Example:
        >>> with atomic_write_path('work_dirs/run/curves.json') as tmp, open(tmp, 'w') as f:
        ...     json.dump(points, f)
    """
    path = str(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = temp_path(path, keep_ext)
    try:
        try:
            yield tmp
            with open(tmp, 'rb') as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except FileWriteError:
            raise
        except OSError as err:
            raise _write_failed(path, err) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` for a temporary file next to ``path``, then rename it to ``path``
    (:func:`atomic_write_path`).

    Example:
        >>> write_atomic('out/table.json', lambda tmp: open(tmp, 'w').write('{}'))
    """
    with atomic_write_path(path) as tmp:
        write(tmp)


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_write_path`."""
    with atomic_write_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


def save_atomic(obj: Any, path: str) -> None:
    """``torch.save`` through :func:`write_atomic`: never half-written.

    torch's file writer reports a full disk as a bare ``RuntimeError`` ("unexpected pos ...");
    when the file system is full at that moment it is the ``ENOSPC`` it is.
    """
    import torch

    def write(tmp: str) -> None:
        try:
            torch.save(obj, tmp)
        except RuntimeError as err:
            if shutil.disk_usage(osp.dirname(osp.abspath(tmp))).free >= _FULL:
                raise
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp) from err

    write_atomic(path, write)


#: Free bytes below which a failed write is taken for a full file system.
_FULL = 2**20


def build_folder_atomically(data_root: str, write: Callable[[str], None],
                            prepared: Callable[[], bool]) -> None:
    """Build ``data_root`` with ``write(tmp)`` in a temporary sibling folder, then rename it.

    Concurrent callers (the ranks of a distributed run) and interrupted runs never see a
    half-written folder: an error removes the temporary sibling (``<data_root>.tmp<pid>``, which
    :func:`remove_stale_temp_files` also removes when a killed process left it). An empty
    ``data_root`` (made by the user) is replaced.

    Args:
        data_root: The folder to create.
        write: Writes the dataset into the folder it is given.
        prepared: Whether ``data_root`` is complete; asked when the rename fails because another
            process finished first.

    Raises:
        FileWriteError: Writing failed (``ENOSPC``, ...); ``data_root`` is as it was.
    """
    data_root = osp.abspath(data_root)
    parent = osp.dirname(data_root)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temp_files(parent, prefix=osp.basename(data_root))
    tmp = temp_path(data_root)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        try:
            write(tmp)
        except OSError as err:
            raise _write_failed(data_root, err) from err
        try:
            if osp.isdir(data_root):  # an empty folder left by the user
                os.rmdir(data_root)
            os.replace(tmp, data_root)
        except OSError:
            if not prepared():  # else another process finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_swept: set[str] = set()


def remove_stale_temp_files(folder: str, once: bool = False, prefix: str = '') -> list[str]:
    """Delete the temporary files and folders that killed processes left in ``folder``.

    A name like :func:`temp_path`'s is removed when the process of its pid is no longer running
    on this machine; those of live processes (another rank, another run still writing) are kept.
    Only the folders we own are swept (work dirs by the checkpoint backend; a dataset's parent
    for that dataset's ``prefix``), never a user's folder at large.

    Args:
        folder: A work dir, checkpoint or data folder.
        once: Sweep ``folder`` only the first time this process asks (the checkpoint backend).
        prefix: Only names that start with ``<prefix>.tmp``.

    Returns:
        The removed paths.
    """
    folder = osp.abspath(folder)
    if once:
        if folder in _swept:
            return []
        _swept.add(folder)
    removed = []
    names = os.listdir(folder) if osp.isdir(folder) else []
    for name in names:
        match = TEMP_NAME.match(name)
        if prefix and not name.startswith(f'{prefix}.tmp'):
            continue
        if match and not _running(int(match.group(1))):
            path = osp.join(folder, name)
            with contextlib.suppress(FileNotFoundError):
                if osp.isdir(path) and not osp.islink(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
