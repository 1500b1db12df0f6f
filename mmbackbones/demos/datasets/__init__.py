"""The digit datasets of the demo tasks (registered in ``mmbackbones.registry.DATASETS``).

The generators (:mod:`.digit_canvas`, :mod:`.digit_clips`, :mod:`.digit_moves`,
:mod:`.digit_tracks`) need only numpy, Pillow and scikit-learn, check their settings by the rules
of :mod:`.settings` and write a dataset ahead of training from the command line (``python -m
mmbackbones.demos.datasets {canvas,clips,moves,tracks} --help``); the dataset classes need the
OpenMMLab library whose base class they extend, and are imported where it is usable
(:mod:`mmbackbones.demos`). The splits, digit classes and palette they share are in
:mod:`.metainfo`.
"""
from ..available import HAS_MMACTION, HAS_MMDET, HAS_MMSEG
from .digit_canvas import prepare_digit_canvas
from .digit_clips import prepare_digit_clips
from .digit_moves import prepare_digit_moves
from .digit_tracks import prepare_digit_tracks
from .digits import DigitsDataset, prepare_digits

__all__ = ['DigitsDataset', 'prepare_digit_canvas', 'prepare_digit_clips', 'prepare_digit_moves',
           'prepare_digit_tracks', 'prepare_digits']

if HAS_MMDET:
    from .digit_det import DigitCanvasDataset  # noqa: F401
    __all__ += ['DigitCanvasDataset']
if HAS_MMSEG:
    from .digit_seg import DigitCanvasSegDataset  # noqa: F401
    __all__ += ['DigitCanvasSegDataset']
if HAS_MMACTION:
    from .digit_action import DigitClipDataset, DigitMovesDataset  # noqa: F401
    __all__ += ['DigitClipDataset', 'DigitMovesDataset']
