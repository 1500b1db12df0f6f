"""Model analysis behind ``tools/analysis_tools``: parameters and FLOPs per stage, peak memory.

The reference numbers they are compared with are the weights wing's catalogue
(:mod:`mmbackbones.checkpoint.catalogue`)."""
from .complexity import CONVENTIONS, Complexity, measure_complexity
from .memory import peak_allocated_bytes

__all__ = ['CONVENTIONS', 'Complexity', 'measure_complexity', 'peak_allocated_bytes']
