"""The ``mmbackbones`` model registry.

``MODELS`` is a child of mmengine's root ``MODELS`` with scope ``mmbackbones``. Because mmengine
imports ``<scope>.registry`` for any ``type='<scope>.Name'`` it cannot resolve, and our registry
lists ``mmbackbones.models`` in ``locations``, ``dict(type='mmbackbones.ResNet', depth=50)`` builds
from mmengine's root registry and from mmdet's or mmpretrain's registries without any manual
import.
"""
from __future__ import annotations

import difflib
from typing import Any

from mmengine import registry as _mmengine_registry
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

SCOPE = 'mmbackbones'


class _Registry(Registry):
    """A registry whose failed builds say what was meant and how to import it.

    ``get`` keeps mmengine's contract (``None`` for an unknown name, so ``MODELS.get(name) is None``
    checks and ``name in MODELS`` work); the helpful message comes where the build fails.
    """

    def build(self, cfg: dict, *args, **kwargs) -> Any:
        try:
            return super().build(cfg, *args, **kwargs)
        except KeyError:
            key = cfg.get('type') if hasattr(cfg, 'get') else None
            if isinstance(key, str) and self.get(key) is None:
                raise KeyError(self._unknown_type_message(key)) from None
            raise  # a known type whose constructor raised KeyError (e.g. an unknown depth)

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
# Training support (tools/train.py): the embedded digits dataset and our runner hooks.
DATASETS = _Registry('dataset', parent=MMENGINE_DATASETS, scope=SCOPE,
                     locations=[f'{SCOPE}.datasets'])
HOOKS = _Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=[f'{SCOPE}.engine'])
# Pass-through children: with default_scope='mmbackbones' mmengine looks for a child of this
# scope in every registry it builds from, and warns when there is none. These hold nothing of
# their own; look-ups fall through to mmengine's roots (mmpretrain's types need their prefix).
_PASS_THROUGH = {
    name: Registry(name, parent=getattr(_mmengine_registry, attr), scope=SCOPE)
    for attr, name in (('TRANSFORMS', 'transform'), ('DATA_SAMPLERS', 'data sampler'),
                       ('OPTIM_WRAPPER_CONSTRUCTORS', 'optimizer wrapper constructor'),
                       ('OPTIMIZERS', 'optimizer'), ('OPTIM_WRAPPERS', 'optim_wrapper'),
                       ('PARAM_SCHEDULERS', 'parameter scheduler'), ('METRICS', 'metric'),
                       ('EVALUATOR', 'evaluator'), ('WEIGHT_INITIALIZERS', 'weight initializer'),
                       ('VISUALIZERS', 'visualizer'), ('VISBACKENDS', 'vis_backend'),
                       ('LOOPS', 'loop'), ('LOG_PROCESSORS', 'log_processor'),
                       ('MODEL_WRAPPERS', 'model_wrapper'), ('FUNCTIONS', 'function'),
                       ('TASK_UTILS', 'task util'), ('RUNNERS', 'runner'),
                       ('RUNNER_CONSTRUCTORS', 'runner constructor'))
}
