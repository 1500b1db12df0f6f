"""Dataset folders that appear whole or not at all, each with a marker file of its settings.

The writing itself is :func:`mmbackbones.utils.fileio.build_folder_atomically`; this module adds
what every generated dataset (digits, digit canvases, clips, tracks) does around it: a marker
file that records the settings, a clear error for a folder made with other settings or by
something else, and nothing rebuilt when the folder is already there.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from collections.abc import Callable
from typing import Optional

from ...utils.fileio import atomic_write_path, build_folder_atomically

__all__ = ['build_folder_atomically', 'prepare_folder', 'read_marker', 'write_marker']

#: Where every generated dataset's data comes from.
SOURCE = 'sklearn.datasets.load_digits'


def read_marker(data_root: str, marker: str, settings: dict, what: str) -> Optional[dict]:
    """The marker of a prepared folder, or None when there is none.

    Raises:
        ValueError: The folder was prepared with other ``settings``.
    """
    path = osp.join(data_root, marker)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        found = json.load(f)
    if {k: found.get(k) for k in settings} != settings:
        raise ValueError(f'data_root={data_root!r} holds {what} prepared with '
                         f'{ {k: found.get(k) for k in settings} }, not {settings}; use another '
                         'data_root or delete that folder.')
    return found


def write_marker(folder: str, marker: str, content: dict) -> None:
    """Write (atomically) the marker file of a folder: its settings and the data source."""
    with atomic_write_path(osp.join(folder, marker)) as tmp, open(tmp, 'w') as f:
        json.dump(dict(content, source=SOURCE), f, indent=1)


def prepare_folder(data_root: str, marker: str, settings: dict,
                   write: Callable[[str], Optional[dict]], *, what: str, kind: str,
                   maker: str) -> dict:
    """Build ``data_root`` with ``write(tmp)`` unless it is prepared with ``settings`` already.

    Args:
        data_root: The folder.
        marker: Name of its marker file.
        settings: What the folder is made from; recorded in the marker and checked on reuse.
        write: Writes the dataset into the folder it is given; may return more marker content.
        what: What it holds, for messages (``'digit clips'``).
        kind: What kind of folder it is, for messages (``'digit clip'``).
        maker: The function users call to make it, for messages.

    Returns:
        The marker content of the prepared folder.

    Raises:
        FileExistsError: ``data_root`` exists, is not empty and holds no marker.
        ValueError: It was prepared with other settings.
    """
    found = read_marker(data_root, marker, settings, what)
    if found is not None:
        return found
    if osp.exists(data_root) and (not osp.isdir(data_root) or os.listdir(data_root)):
        raise FileExistsError(f'data_root={data_root!r} exists and is not a {kind} folder made '
                              f'by {maker} (no {marker}); use another data_root.')

    def build(tmp: str) -> None:
        extra = write(tmp) or {}
        write_marker(tmp, marker, dict(settings, **extra))

    build_folder_atomically(data_root, build,
                            lambda: read_marker(data_root, marker, settings, what) is not None)
    return read_marker(data_root, marker, settings, what)
