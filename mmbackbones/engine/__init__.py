"""Runner support: atomic checkpoint writing, safe resuming, curve plots, exact resume."""
from .checkpoint import AtomicLocalBackend, training_checkpoint_globals
from .hooks import CurvePlotHook, ProgressBarHook, RNGStateHook

__all__ = [
    'AtomicLocalBackend', 'CurvePlotHook', 'ProgressBarHook', 'RNGStateHook',
    'training_checkpoint_globals'
]
