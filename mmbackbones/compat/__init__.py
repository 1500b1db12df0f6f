"""Contained fixes for broken releases of the OpenMMLab libraries our tiers use.

Each fix is a function that is safe to call at any time, does nothing where the library is not
installed or is already fixed, and never edits site-packages. :func:`apply_compat_fixes` applies
them all; ``load_config`` (so ``tools/train.py`` and ``tools/test.py``) and the tier tests call it.
"""
from .mmaction import ensure_mmaction_importable


def apply_compat_fixes() -> None:
    """Apply every fix that the installed libraries need (today: mmaction2 1.2.0's missing
    ``drn`` subpackage, see :mod:`mmbackbones.compat.mmaction`)."""
    ensure_mmaction_importable()


__all__ = ['apply_compat_fixes', 'ensure_mmaction_importable']
