from .io import UnsafeCheckpointError, extract_state_dict, load_file, save_atomic
from .loader import CheckpointMismatchError, LoadReport, load_pretrained, load_state_dict_report

__all__ = [
    'CheckpointMismatchError', 'LoadReport', 'UnsafeCheckpointError', 'extract_state_dict',
    'load_file', 'load_pretrained', 'load_state_dict_report', 'save_atomic'
]
