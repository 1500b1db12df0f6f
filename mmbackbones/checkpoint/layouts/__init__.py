"""Foreign checkpoint layouts: one module per layout, each a declared key map and its detection
rule (a module-level ``LAYOUT``, see :class:`~.base.Layout`).

Every module of this package except ``base`` is a layout and is found here by name, so adding a
layout is adding one file (docs/adding_a_layout.md). The loader and the 2D-to-3D inflation use
them through :mod:`mmbackbones.checkpoint.core`.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import Layout, any_key, family_knows, keep, norm_prefix, rename


def _discover() -> tuple[Layout, ...]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == 'base' or info.name.startswith('_'):
            continue
        module = importlib.import_module(f'{__name__}.{info.name}')
        layout = getattr(module, 'LAYOUT', None)
        if not isinstance(layout, Layout):
            raise TypeError(f'{module.__name__} is in the layouts package but defines no '
                            f'LAYOUT = Layout(...) (found {layout!r}).')
        found.append(layout)
    return tuple(found)


#: Every layout, in name order (the order breaks ties between equally good renamings).
LAYOUTS: tuple[Layout, ...] = _discover()

__all__ = ['LAYOUTS', 'Layout', 'any_key', 'family_knows', 'keep', 'norm_prefix', 'rename']
