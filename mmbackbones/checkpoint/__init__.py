"""The weights wing: everything about weights files, in one package below the models.

Layers, bottom up (each module imports only those above it in this list):

* :mod:`.errors`: the errors every part raises (a leaf);
* :mod:`.catalogue`: the published weights and zoo numbers, read from the metafiles;
* :mod:`.hub`: model-zoo names and URLs to local files, hash-checked downloads and cache;
* :mod:`.io`: reading files safely (:func:`~.io.safe_globals` is the allow-list);
* :mod:`.deploy_state`: the marker a BN-folded model's state dict carries;
* :mod:`.layouts`, :mod:`.core`: other libraries' key names and the matching of a state dict to a
  model;
* :mod:`.loader`, :mod:`.inflate`: loading (or inflating 2D into 3D) with a report.

Nothing here imports the models, deploy or the engine; ``mmbackbones.hub`` is :mod:`.hub`.
"""
from ..utils.fileio import save_atomic  # weights are saved with the one atomic writer
from .core import match_checkpoint
from .errors import (
    CheckpointFileError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    ChecksumError,
    UnsafeCheckpointError,
)
from .inflate import (
    InflateInit,
    InflateReport,
    inflate_pretrained,
    inflate_state_dict,
    inflate_weight,
)
from .io import allow_safe_globals, extract_state_dict, load_file, read_state_dict, safe_globals
from .layouts import LAYOUTS, Layout
from .loader import LoadReport, load_pretrained, load_state_dict_report

__all__ = [
    'CheckpointFileError', 'CheckpointMismatchError', 'CheckpointNotFoundError',
    'ChecksumError', 'InflateInit', 'InflateReport', 'LAYOUTS', 'Layout', 'LoadReport',
    'UnsafeCheckpointError', 'extract_state_dict', 'inflate_pretrained', 'inflate_state_dict',
    'inflate_weight', 'load_file', 'load_pretrained', 'load_state_dict_report',
    'allow_safe_globals', 'match_checkpoint', 'read_state_dict', 'safe_globals', 'save_atomic'
]
