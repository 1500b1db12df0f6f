from .inflate import InflateReport, inflate_pretrained, inflate_state_dict, inflate_weight
from .io import UnsafeCheckpointError, extract_state_dict, load_file, save_atomic
from .loader import CheckpointMismatchError, LoadReport, load_pretrained, load_state_dict_report

__all__ = [
    'CheckpointMismatchError', 'InflateReport', 'LoadReport', 'inflate_pretrained',
    'inflate_state_dict', 'inflate_weight', 'UnsafeCheckpointError', 'extract_state_dict',
    'load_file', 'load_pretrained', 'load_state_dict_report', 'save_atomic'
]
