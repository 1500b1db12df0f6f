"""Model analysis behind ``tools/analysis_tools`` (parameters and FLOPs per stage)."""
from .complexity import CONVENTIONS, Complexity, measure_complexity
from .metafile import ZooEntry, load_zoo, metadata, zoo_entry

__all__ = ['CONVENTIONS', 'Complexity', 'measure_complexity', 'ZooEntry', 'load_zoo', 'metadata',
           'zoo_entry']
