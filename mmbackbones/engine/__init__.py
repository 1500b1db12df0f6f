"""Runner support: atomic checkpoint writing, safe resuming, curve plots, exact resume."""
from .checkpoint import (
    AtomicLocalBackend,
    atomic_write_path,
    remove_stale_temp_files,
    training_checkpoint_globals,
)
from .hooks import (
    AtomicCheckpointHook,
    CurvePlotHook,
    PredictionPlotHook,
    ProgressBarHook,
    RNGStateHook,
)

__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'CurvePlotHook', 'PredictionPlotHook',
    'ProgressBarHook', 'RNGStateHook', 'atomic_write_path', 'remove_stale_temp_files',
    'training_checkpoint_globals'
]
