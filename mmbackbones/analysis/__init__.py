"""Model analysis behind ``tools/analysis_tools`` (parameters and FLOPs per stage)."""
from .complexity import CONVENTIONS, Complexity, measure_complexity

__all__ = ['CONVENTIONS', 'Complexity', 'measure_complexity']
