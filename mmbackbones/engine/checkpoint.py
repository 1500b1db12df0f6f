"""Training checkpoints that are never half-written and that resume without unsafe unpickling.

* mmengine's ``local`` file backend writes a checkpoint in place, so a run killed while saving
  leaves a truncated ``epoch_N.pth`` that ``--resume`` then fails on. ``local_atomic`` writes to a
  temporary file in the same folder and renames it (atomic on POSIX); our configs select it with
  :class:`~mmbackbones.engine.hooks.AtomicCheckpointHook`, which also deletes old checkpoints
  only after the new one is written. A run killed between the write
  and the rename leaves only its temporary file, ``<name>.tmp<pid>``;
  :func:`~mmbackbones.utils.fileio.remove_stale_temp_files` deletes those of dead processes when
  the next run writes there. A write that fails (a full disk) raises
  :class:`~mmbackbones.utils.fileio.FileWriteError` naming the file; the previous checkpoint is
  intact.
* torch >= 2.6 loads with ``weights_only=True``, which refuses the ``message_hub``
  (``HistoryBuffer``) and numpy values that mmengine stores in every training checkpoint.
  :func:`training_checkpoint_globals` allows exactly those types (the allow-list
  :func:`mmbackbones.checkpoint.safe_globals`) for the duration of a ``with`` block, instead of
  switching unsafe loading on; our own loaders inside the block (an ``init_cfg`` that reads a
  checkpoint) leave its list in place.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
from pathlib import Path
from typing import Iterator, Union

from mmengine.fileio import LocalBackend, register_backend

from ..checkpoint import allow_safe_globals
from ..utils.fileio import remove_stale_temp_files, write_bytes_atomic


def _write_atomic(data: bytes, filepath: Union[str, Path]) -> None:
    """Sweep the folder of what killed runs left (once per folder and process), then write."""
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temp_files(folder, once=True)
    write_bytes_atomic(filepath, data)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes go to a temporary file and are renamed."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        _write_atomic(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        _write_atomic(obj.encode(encoding), filepath)


register_backend('local_atomic', AtomicLocalBackend, force=True)


@contextlib.contextmanager
def training_checkpoint_globals() -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` read mmengine training checkpoints in this block.

    Example:
        >>> with training_checkpoint_globals():
        ...     runner.train()  # resume=True loads epoch_N.pth with weights_only=True
    """
    with allow_safe_globals():  # nests: our loaders inside the block keep its list
        yield
