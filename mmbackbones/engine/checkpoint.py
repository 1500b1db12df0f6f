"""Training checkpoints that are never half-written and that resume without unsafe unpickling.

* mmengine's ``local`` file backend writes a checkpoint in place, so a run killed while saving
  leaves a truncated ``epoch_N.pth`` that ``--resume`` then fails on. ``local_atomic`` writes to a
  temporary file in the same folder and renames it (atomic on POSIX); our configs select it with
  ``CheckpointHook(backend_args=dict(backend='local_atomic'))``.
* torch >= 2.6 loads with ``weights_only=True``, which refuses the ``message_hub``
  (``HistoryBuffer``) and numpy values that mmengine stores in every training checkpoint.
  :func:`training_checkpoint_globals` allows exactly those types (the allow-list of
  :mod:`mmbackbones.checkpoint.io`) for the duration of a ``with`` block, instead of switching
  unsafe loading on.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Union

import torch
from mmengine.fileio import LocalBackend, register_backend

from ..checkpoint.io import _extra_safe_globals, write_atomic


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes go to a temporary file and are renamed."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomic(str(filepath), lambda tmp: _write_bytes(tmp, obj))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(data)


register_backend('local_atomic', AtomicLocalBackend, force=True)


@contextlib.contextmanager
def training_checkpoint_globals() -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` read mmengine training checkpoints in this block.

    Example:
        >>> with training_checkpoint_globals():
        ...     runner.train()  # resume=True loads epoch_N.pth with weights_only=True
    """
    with torch.serialization.safe_globals(_extra_safe_globals()):
        yield
