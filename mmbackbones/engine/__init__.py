"""Runner support: atomic checkpoint writing, safe resuming, curve plots, exact resume."""
from .checkpoint import AtomicLocalBackend, training_checkpoint_globals
from .fast_paths import ChannelsLastHook, CPUAmpOptimWrapper, apply_fast_paths
from .hooks import CurvePlotHook, ProgressBarHook, RNGStateHook

__all__ = [
    'AtomicLocalBackend', 'ChannelsLastHook', 'CPUAmpOptimWrapper', 'CurvePlotHook',
    'ProgressBarHook', 'RNGStateHook', 'apply_fast_paths', 'training_checkpoint_globals'
]
