"""Runner support: atomic checkpoint writing, safe resuming, curve plots, exact resume."""
from ..utils.fileio import atomic_write_path, remove_stale_temp_files
from .checkpoint import AtomicLocalBackend, training_checkpoint_globals
from .fast_paths import ChannelsLastHook, CPUAmpOptimWrapper, apply_fast_paths
from .hooks import (
    AtomicCheckpointHook,
    CurvePlotHook,
    PredictionPlotHook,
    ProgressBarHook,
    RNGStateHook,
)

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'ChannelsLastHook', 'CPUAmpOptimWrapper',
    'CurvePlotHook', 'PredictionPlotHook', 'ProgressBarHook', 'RNGStateHook', 'apply_fast_paths',
    'atomic_write_path', 'remove_stale_temp_files', 'training_checkpoint_globals'
]
