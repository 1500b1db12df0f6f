"""Test-only hook for tests/test_interrupted.py: a training run that SIGKILLs itself.

Imported by the ``tools/train.py`` processes that the test starts (``custom_imports`` in their
config, with ``tests/`` on ``PYTHONPATH``); never by the package.
"""
from __future__ import annotations

import os
import os.path as osp
import signal
import sys
from typing import Optional

from mmengine.hooks import Hook

from mmbackbones.registry import HOOKS

KILL_POINTS = (None, 'val', 'checkpoint_write')


def _die(where: str) -> None:
    print(f'kill_hooks: SIGKILL {where}', file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_on_rename(name: str) -> None:
    """SIGKILL this process when a file is about to be renamed to ``name``: its temporary file is
    completely written, the rename has not happened (mmbackbones' atomic writers end in
    ``os.replace``)."""
    replace = os.replace

    def replace_or_die(src, dst, *args, **kwargs):
        if osp.basename(str(dst)) == name:
            _die(f'between writing {src} ({osp.getsize(src)} bytes) and renaming it to {dst}')
        return replace(src, dst, *args, **kwargs)

    os.replace = replace_or_die


@HOOKS.register_module()
class SigkillHook(Hook):
    """Record each training iteration and SIGKILL the process at a chosen point.

    Args:
        progress_file: ``<iteration>`` is appended here before each training iteration; the test
            times its random kills from it.
        at: ``'val'``: during validation after epoch ``epoch``; ``'checkpoint_write'``: while
            ``epoch_<epoch>.pth`` is being written (after the data, before the rename); None:
            never (the parent kills at random times).
        epoch: The epoch of ``at``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, progress_file: str, at: Optional[str] = None, epoch: int = 1) -> None:
        if at not in KILL_POINTS:
            raise ValueError(f'at={at!r} is not one of {KILL_POINTS}.')
        self.progress_file = progress_file
        self.at = at
        self.epoch = epoch
        if at == 'checkpoint_write':
            _kill_on_rename(f'epoch_{epoch}.pth')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        with open(self.progress_file, 'a') as f:
            f.write(f'{runner.iter}\n')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # runner.epoch counts finished training epochs
        if self.at == 'val' and runner.epoch == self.epoch:
            _die(f'during validation after epoch {runner.epoch}, batch {batch_idx}')
