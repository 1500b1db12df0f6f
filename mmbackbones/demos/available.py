"""Which OpenMMLab libraries the demo tasks can use here (read once, at import)."""
import importlib.util

from ..compat import ensure_mmaction_importable


def _usable(package: str) -> bool:
    """Whether ``package`` (mmdet, mmseg) imports here: installed, with full mmcv's compiled ops,
    which mmcv-lite lacks."""
    if importlib.util.find_spec(package) is None:
        return False
    try:
        import mmcv.ops  # noqa: F401
        return True
    except (ImportError, OSError):
        return False


def _mmaction_usable() -> bool:
    if importlib.util.find_spec('mmaction') is None:
        return False
    ensure_mmaction_importable()  # mmaction2 1.2.0's wheel needs it (open-mmlab/mmaction2#2714)
    try:
        import mmaction.datasets  # noqa: F401
        return True
    except ImportError:
        return False


HAS_MMDET = _usable('mmdet')
HAS_MMSEG = _usable('mmseg')
HAS_MMACTION = _mmaction_usable()
