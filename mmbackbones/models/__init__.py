from . import heads  # noqa: F401  (registers AuxClsHead's lazy builder)
from .backbones import *  # noqa: F401,F403
from .backbones import __all__ as _backbones
from .layers import BasicBlock, Bottleneck, ResLayer
from .necks import FPN

__all__ = list(_backbones) + ['BasicBlock', 'Bottleneck', 'ResLayer', 'FPN']
