"""Model analysis behind ``tools/analysis_tools`` (parameters and FLOPs per stage)."""
from .complexity import CONVENTIONS, Complexity, measure_complexity
from .memory import peak_allocated_bytes

__all__ = ['CONVENTIONS', 'Complexity', 'measure_complexity', 'peak_allocated_bytes']
