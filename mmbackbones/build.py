"""``build_model``: one way for users (and the tools, :mod:`mmbackbones.cli`) to build a model
from a registered name, a config dict or a config file, optionally with its published weights.

A name builds exactly what it names: a class that needs arguments (``ResNeXt`` without ``depth``)
is refused with the arguments it needs and the named variants that would do.
"""
from __future__ import annotations

import datetime
import inspect
import os
import os.path as osp
import warnings
from typing import Any

import torch.nn as nn
from mmengine import DefaultScope
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import init_default_scope as set_default_scope

from . import models  # noqa: F401  (registers every backbone and neck)
from .checkpoint.hub import init_cfg, weights_entry
from .config import build_model_from_cfg, load_config
from .models.variants import fixed_arguments
from .registry import MODELS, SCOPE, close_matches


class BuildError(ValueError):
    """What the user named (model, arguments, checkpoint) does not build; the message says why."""


def build_model(model: str | os.PathLike | dict, part: str = 'model', pretrained: bool = False,
                **overrides: Any) -> nn.Module:
    """Build a registered name, a config dict or the model of a config file.

    Args:
        model: A registered type or named variant (``'resnet50'``, ``'ResNet'``), a dict with a
            ``type`` key, a config file path (``.py``, its ``model``) or a loaded mmengine
            ``Config``.
        part: For a config: ``'model'`` builds ``cfg.model`` as the Runner would (default scope,
            top-level ``data_preprocessor``); ``'backbone'`` builds ``cfg.model.backbone``
            (``cfg.model`` when it has none).
        pretrained: For a named variant, load its published weights: ``'resnet50'`` takes the
            default entry of its metafile, ``'resnet50.tv_in1k'`` the one named
            (:mod:`mmbackbones.hub`; list them with ``hub.list_pretrained()``).
        **overrides: Arguments merged over the built dict's top level (constructor arguments of a
            name or a backbone).

    Returns:
        The built module.

    Raises:
        ValueError: ``model`` is neither a config file nor a registered name, or ``part`` is
            unknown, or ``pretrained`` is asked of a config or together with ``init_cfg``.
        KeyError: ``model`` names weights its metafile does not list.
        TypeError: ``model`` names a class without an argument it needs (``'ResNeXt'`` without
            ``depth``); the message lists the named variants that have it.

    Example:
        >>> from mmbackbones import build_model
        >>> build_model('resnet18', out_indices=(3, )).out_channels
        (512,)
        >>> build_model(dict(type='ResNet', depth=18), num_stages=2).out_channels
        (64, 128)
        >>> model = build_model('resnet50.tv_in1k', pretrained=True)  # doctest: +SKIP
    """
    if part not in ('model', 'backbone'):
        raise ValueError(f"part={part!r} is not supported; allowed: ['model', 'backbone'].")
    if pretrained and not isinstance(model, str):
        raise ValueError(f'pretrained=True needs a registered name (e.g. "resnet50.tv_in1k"); '
                         f'got {type(model).__name__}. A config names its weights in init_cfg.')
    if isinstance(model, dict):
        return MODELS.build({**model, **overrides})
    if not isinstance(model, (str, os.PathLike)) or os.fspath(model).endswith('.py') or \
            osp.isfile(model):
        return _build_from_config(model, part, overrides)
    if model not in MODELS and model.split('.', 1)[0] in MODELS:  # 'resnet50.tv_in1k'
        return _build_pretrained(weights_entry(model).variant, model, pretrained, overrides)
    if model not in MODELS:
        close = close_matches(model, sorted(MODELS.module_dict), n=3)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        raise ValueError(f'{model!r} is neither a config file nor a registered model.{hint} '
                         'List them with: python tools/misc/list_models.py')
    return _build_pretrained(model, model, pretrained, overrides)


def _build_pretrained(variant: str, weights: str, pretrained: bool, overrides: dict) -> nn.Module:
    _check_required_arguments(variant, overrides)
    if not pretrained:
        return MODELS.build(dict(type=variant, **overrides))
    if overrides.get('init_cfg') is not None:
        raise ValueError(f'pretrained=True loads the published weights; got init_cfg='
                         f'{overrides["init_cfg"]!r} too. Pass one of them.')
    arguments = {**weights_entry(weights).arguments, **overrides}  # what the weights need
    built = MODELS.build(dict(type=variant, **arguments, init_cfg=init_cfg(weights)))
    built.init_weights()
    return built


def _required_arguments(obj: Any) -> list[str]:
    """Constructor arguments of a registered class or variant that have no default and that it
    does not fix."""
    fixed = fixed_arguments(obj)
    cls = getattr(obj, 'variant_of', obj)
    if not isinstance(cls, type):
        return []
    required: list[str] = []
    for klass in cls.__mro__:  # through ``**kwargs`` constructors to the one that names them
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        required += [p.name for p in params if p.default is p.empty and p.name not in fixed
                     and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return list(dict.fromkeys(required))


def _check_required_arguments(name: str, given: dict) -> None:
    obj = MODELS.get(name)
    missing = [arg for arg in _required_arguments(obj) if arg not in given]
    if not missing:
        return
    cls = getattr(obj, 'variant_of', obj)
    allowed = ''
    if 'depth' in missing and getattr(cls, 'arch_settings', None):
        allowed = f' (depth: one of {sorted(cls.arch_settings)})'
    variants = sorted(n for n, o in MODELS.module_dict.items()
                      if getattr(o, 'variant_of', None) is cls)
    example = ' '.join(f'{arg}=...' for arg in missing)
    raise TypeError(f'{name} needs {", ".join(missing)}{allowed}: give it ({name}({example}), '
                    f'a tool\'s --model-args {example})'
                    + (f', or name a variant: {", ".join(variants)}.' if variants else '.'))


def _build_from_config(config: Any, part: str, overrides: dict) -> nn.Module:
    cfg = config if isinstance(config, Config) else load_config(os.fspath(config))
    if part == 'model':
        cfg = cfg.copy()
        cfg.model = {**cfg.model, **overrides}
        return build_model_from_cfg(cfg)
    set_default_scope(cfg.get('default_scope', SCOPE))
    model_cfg = cfg.model.get('backbone', cfg.model)
    return ROOT_MODELS.build({**model_cfg, **overrides})


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register every mmbackbones module and optionally make ``mmbackbones`` the default scope.

    With the default scope set, a plain ``dict(type='ResNet', depth=50)`` builds ours.

    Args:
        init_default_scope: Set the current default scope to ``'mmbackbones'``. If another
            scope is current, a new uniquely named default-scope instance is created, as mmdet does.
    """
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    never_created = current is None or not DefaultScope.check_instance_created(SCOPE)
    if never_created:
        DefaultScope.get_instance(SCOPE, scope_name=SCOPE)
        return
    if current.scope_name != SCOPE:
        warnings.warn(f'The current default scope "{current.scope_name}" is not "mmbackbones"; '
                      '`register_all_modules` creates a new default scope named "mmbackbones".',
                      stacklevel=2)
        name = f'mmbackbones-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name=SCOPE)
