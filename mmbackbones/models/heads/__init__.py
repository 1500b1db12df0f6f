"""Classification heads for training our backbones inside mmpretrain's ``ImageClassifier``.

They subclass mmpretrain's heads, and mmpretrain is the ``train`` extra (and slow to import), so
the registry holds a builder that imports the class when a config first builds it.
"""
from __future__ import annotations

from ...registry import MODELS


@MODELS.register_module(name='AuxClsHead')
def build_aux_cls_head(**kwargs):
    """Build :class:`mmbackbones.models.heads.aux_cls_head.AuxClsHead` (needs mmpretrain)."""
    try:
        from .aux_cls_head import AuxClsHead  # optional dependency: mmpretrain
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('AuxClsHead subclasses mmpretrain.ClsHead: install the train extra '
                          "(pip install 'mmbackbones[train]').") from err
    return AuxClsHead(**kwargs)


__all__ = ['build_aux_cls_head']
