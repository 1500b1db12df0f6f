"""Model analysis behind ``tools/analysis_tools`` (parameters and FLOPs per stage)."""
from .complexity import CONVENTIONS, Complexity, measure_complexity
from .memory import peak_allocated_bytes
from .metafile import ZooEntry, load_zoo, metadata, zoo_entry

__all__ = ['CONVENTIONS', 'Complexity', 'measure_complexity', 'ZooEntry', 'load_zoo', 'metadata',
           'peak_allocated_bytes', 'zoo_entry']
