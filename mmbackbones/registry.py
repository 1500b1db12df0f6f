"""The ``mmbackbones`` model registry.

``MODELS`` is a child of mmengine's root ``MODELS`` with scope ``mmbackbones``. Because mmengine
imports ``<scope>.registry`` for any ``type='<scope>.Name'`` it cannot resolve, and our registry
lists ``mmbackbones.models`` in ``locations``, ``dict(type='mmbackbones.ResNet', depth=50)`` builds
from mmengine's root registry and from mmdet's or mmpretrain's registries without any manual
import.
"""
from __future__ import annotations

import difflib

from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

SCOPE = 'mmbackbones'


class _Registry(Registry):
    """A registry whose failed look-ups say what was meant and how to import it."""

    def get(self, key):
        obj = super().get(key)
        if obj is None and isinstance(key, str):
            raise KeyError(self._unknown_type_message(key))
        return obj

    def __contains__(self, key) -> bool:
        # mmengine's ``__contains__`` calls ``get``, which raises here: keep ``in`` a plain test.
        return super().get(key) is not None

    def _unknown_type_message(self, key: str) -> str:
        scope, name = self.split_scope_key(key)
        names = sorted(self.module_dict)
        lowered = {n.lower(): n for n in names}
        close = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=4,
                                                               cutoff=0.6)]
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        return (f'type={key!r} is not registered in the {self.scope!r} {self.name} registry '
                f'(nor in its parent).{hint} Registered types: {", ".join(names)}. '
                f'If it comes from another package, import that package first: in a config add '
                f"custom_imports=dict(imports=['<package>'], allow_failed_imports=False); from "
                f"an mmdetection/mmpretrain config name ours as type='{SCOPE}.<Type>' with "
                f"custom_imports=dict(imports=['{SCOPE}']).")


MODELS = _Registry('model', parent=MMENGINE_MODELS, scope=SCOPE,
                   locations=[f'{SCOPE}.models'])
