"""The ``mmbackbones`` model registry.

``MODELS`` is a child of mmengine's root ``MODELS`` with scope ``mmbackbones``. Because mmengine
imports ``<scope>.registry`` for any ``type='<scope>.Name'`` it cannot resolve, and our registry
lists ``mmbackbones.models`` in ``locations``, ``dict(type='mmbackbones.ResNet', depth=50)`` builds
from mmengine's root registry and from mmdet's or mmpretrain's registries without any manual
import.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from mmengine import registry as _mmengine_registry
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope, Registry

SCOPE = 'mmbackbones'


def close_matches(name: str, names: list[str], n: int = 4) -> list[str]:
    """The ``names`` closest to ``name``, ignoring case (``'Resnet'`` -> ``'ResNet'``)."""
    lowered = {m.lower(): m for m in names}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n,
                                                          cutoff=0.6)]


def unknown_type_message(registry: Registry, key: str) -> str:
    """What a failed build of ``type=key`` from ``registry`` (one of ours) tells the user: close
    matches among its names and how to import a type from another package."""
    _, name = registry.split_scope_key(key)
    names = sorted(registry.module_dict)
    close = close_matches(name, names)
    hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
    return (f'type={key!r} is not registered in the {registry.scope!r} {registry.name} registry '
            f'(nor in its parent).{hint} Registered types: {", ".join(names)}. '
            f'If it comes from another package, import that package first: in a config add '
            f"custom_imports=dict(imports=['<package>'], allow_failed_imports=False); from "
            f"an mmdetection/mmpretrain config name ours as type='{SCOPE}.<Type>' with "
            f"custom_imports=dict(imports=['{SCOPE}']).")


def _ours_for(cfg: Any, registry: Registry, ours: Registry) -> str | None:
    """The type of ``cfg`` when ``ours`` is the registry that failed to resolve it, else None.

    That is a ``'mmbackbones.'`` type, or a plain type built from ``ours`` or under the
    ``mmbackbones`` default scope; and ``ours`` (with its parents) does not know the name.
    """
    key = cfg.get('type') if hasattr(cfg, 'get') else None
    if not isinstance(key, str):
        return None
    scope, _ = Registry.split_scope_key(key)
    if scope is None:
        current = DefaultScope.get_current_instance()
        scope = cfg.get('_scope_') or (registry.scope if registry.scope == SCOPE else
                                       current.scope_name if current else None)
    return key if scope == SCOPE and ours.get(key) is None else None


def with_unknown_type_message(build_func: Callable, ours: Registry) -> Callable:
    """``build_func`` whose ``KeyError`` for a type ``ours`` should hold but does not carries
    :func:`unknown_type_message`; every other error passes through unchanged (a known type whose
    constructor raises ``KeyError``, e.g. for an unknown depth, keeps its own message)."""
    if getattr(build_func, 'mmbackbones_hint_for', None) is ours:
        return build_func

    def build(cfg: Any, *args, **kwargs) -> Any:
        try:
            return build_func(cfg, *args, **kwargs)
        except KeyError:
            registry = kwargs.get('registry', args[0] if args else ours)
            key = _ours_for(cfg, registry, ours)
            if key is None:
                raise
            raise KeyError(unknown_type_message(ours, key)) from None

    build.mmbackbones_hint_for = ours
    build.__wrapped__ = build_func
    return build


def _child_with_hints(name: str, root: Registry, **kwargs) -> Registry:
    """Our child of mmengine's ``root`` registry, with the helpful unknown-type message on every
    build path: ours, the root's (``from mmengine.registry import MODELS``, as an mmdet config
    builds ``type='mmbackbones.X'``) and the registries of packages already imported (mmdet's,
    mmpretrain's), which copied the root's build function when they were created. ``get`` keeps
    mmengine's contract: ``None`` for an unknown name.

    A process that has not imported mmbackbones yet builds its first ``'mmbackbones.X'`` with
    mmengine's own message (the import happens inside that lookup); configs import us first
    through ``custom_imports``.
    """
    child = Registry(name, parent=root, scope=SCOPE, **kwargs)
    todo = [root]
    while todo:
        registry = todo.pop()
        registry.build_func = with_unknown_type_message(registry.build_func, child)
        todo.extend(registry._children.values())
    return child


MODELS = _child_with_hints('model', MMENGINE_MODELS, locations=[f'{SCOPE}.models'])
# The runner hooks of mmbackbones.engine (found through `locations`, as MODELS finds the models)
# and the datasets of the demo tasks, which configs import themselves
# (custom_imports=dict(imports=['mmbackbones.demos'])): the library never imports that wing.
DATASETS = _child_with_hints('dataset', MMENGINE_DATASETS)
HOOKS = _child_with_hints('hook', MMENGINE_HOOKS, locations=[f'{SCOPE}.engine'])
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
