"""Dataset folders that appear whole or not at all."""
from __future__ import annotations

import os
import os.path as osp
import shutil
import tempfile
from collections.abc import Callable


def build_folder_atomically(data_root: str, write: Callable[[str], None],
                            prepared: Callable[[], bool]) -> None:
    """Build ``data_root`` with ``write(tmp)`` in a temporary sibling folder, then rename it.

    Concurrent callers (the ranks of a distributed run) and interrupted runs never see a
    half-written folder: a crash leaves only the hidden temporary sibling, which is removed when
    the error propagates. An empty ``data_root`` (made by the user) is replaced.

    Args:
        data_root: The folder to create.
        write: Writes the dataset into the folder it is given.
        prepared: Whether ``data_root`` is complete; asked when the rename fails because another
            process finished first.
    """
    parent = osp.dirname(osp.abspath(data_root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(osp.abspath(data_root))}-', dir=parent)
    try:
        write(tmp)
        try:
            if osp.isdir(data_root):  # an empty folder left by the user
                os.rmdir(data_root)
            os.replace(tmp, data_root)
        except OSError:
            if not prepared():  # else another process finished first
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp)
