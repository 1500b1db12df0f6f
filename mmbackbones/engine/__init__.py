"""Runner support: atomic checkpoint writing, safe resuming, curve plots, exact resume."""
from .checkpoint import AtomicLocalBackend, training_checkpoint_globals
from .hooks import CurvePlotHook, PredictionPlotHook, ProgressBarHook, RNGStateHook

__all__ = [
    'AtomicLocalBackend', 'CurvePlotHook', 'PredictionPlotHook', 'ProgressBarHook', 'RNGStateHook',
    'training_checkpoint_globals'
]
