"""Datasets for training around our backbones (registered in ``mmbackbones.registry.DATASETS``).

Importing this package imports mmpretrain (and mmdet, mmseg and mmaction2, where they can be
imported); the registry imports it on first use, so ``import mmbackbones`` stays light. The digit
canvas and clip generators (:mod:`.digit_canvas`, :mod:`.digit_clips`) need only numpy, Pillow
and scikit-learn.
"""
from .digit_canvas import prepare_digit_canvas
from .digit_clips import prepare_digit_clips
from .digits import DigitsDataset, prepare_digits

__all__ = ['DigitsDataset', 'prepare_digits', 'prepare_digit_canvas', 'prepare_digit_clips']


def _usable(package: str) -> bool:
    import importlib.util
    if importlib.util.find_spec(package) is None:
        return False
    try:  # mmdet and mmseg need full mmcv (compiled ops), not mmcv-lite
        import mmcv.ops  # noqa: F401
        return True
    except (ImportError, OSError):
        return False


if _usable('mmdet'):
    from .digit_det import DigitCanvasDataset  # noqa: F401
    __all__ += ['DigitCanvasDataset']
    # registers DigitTrackClipDataset (the digit tracking videos as clips), see mmbackbones.tracking
    import importlib as _importlib
    _importlib.import_module('mmbackbones.tracking')
if _usable('mmseg'):
    from .digit_seg import DigitCanvasSegDataset  # noqa: F401
    __all__ += ['DigitCanvasSegDataset']


def _mmaction_usable() -> bool:
    import importlib.util

    from ..compat import ensure_mmaction_importable
    if importlib.util.find_spec('mmaction') is None:
        return False
    ensure_mmaction_importable()  # mmaction2 1.2.0's wheel needs it (open-mmlab/mmaction2#2714)
    try:
        import mmaction.datasets  # noqa: F401
        return True
    except ImportError:
        return False


if _mmaction_usable():
    from .digit_action import DigitClipDataset  # noqa: F401
    __all__ += ['DigitClipDataset']
