"""Every error the weights wing raises, in one leaf module that imports nothing of ours.

A checkpoint that cannot be read is a :class:`CheckpointFileError` (a ``ValueError``) naming the
file and what is wrong; the subclasses say more where a caller may want to catch one case.
"""
from __future__ import annotations

import pickle


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read; the message names the file and what is wrong."""


class CheckpointNotFoundError(CheckpointFileError, FileNotFoundError):
    """The checkpoint path does not exist (or could not be downloaded)."""


class UnsafeCheckpointError(CheckpointFileError, pickle.UnpicklingError):
    """The file would have to run code to load; it was refused."""


class ChecksumError(CheckpointFileError):
    """A downloaded or cached file whose SHA-256 is not the published one; it was not kept
    (a wrong file in a read-only cache is left where it is, and the message says so)."""


class CheckpointMismatchError(ValueError):
    """The checkpoint matched too little of the model; the message holds the report."""


__all__ = ['CheckpointFileError', 'CheckpointMismatchError', 'CheckpointNotFoundError',
           'ChecksumError', 'UnsafeCheckpointError']
