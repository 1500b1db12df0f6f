from .core import CheckpointMismatchError, match_checkpoint
from .inflate import (
    InflateInit,
    InflateReport,
    inflate_pretrained,
    inflate_state_dict,
    inflate_weight,
)
from .io import (
    CheckpointFileError,
    CheckpointNotFoundError,
    UnsafeCheckpointError,
    extract_state_dict,
    load_file,
    read_state_dict,
    save_atomic,
    write_atomic,
)
from .layouts import LAYOUTS, Layout
from .loader import LoadReport, load_pretrained, load_state_dict_report

__all__ = [
    'CheckpointFileError', 'CheckpointMismatchError', 'CheckpointNotFoundError', 'InflateInit',
    'InflateReport',
    'LAYOUTS', 'Layout', 'LoadReport', 'UnsafeCheckpointError', 'extract_state_dict',
    'inflate_pretrained', 'inflate_state_dict', 'inflate_weight', 'load_file', 'load_pretrained',
    'load_state_dict_report', 'match_checkpoint', 'read_state_dict', 'save_atomic',
    'write_atomic'
]
