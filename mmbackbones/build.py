"""``build_model``: one way for tools and users to build a model from what they typed."""
from __future__ import annotations

import difflib
import os
import os.path as osp
from typing import Any

import torch.nn as nn

from .registry import MODELS


def build_model(model: str | os.PathLike | dict, part: str = 'model',
                **overrides: Any) -> nn.Module:
    """Build a registered name, a config dict or the model of a config file.

    Args:
        model: A registered type or named variant (``'resnet50'``, ``'ResNet'``), a dict with a
            ``type`` key, a config file path (``.py``, its ``model``) or a loaded mmengine
            ``Config``.
        part: For a config: ``'model'`` builds ``cfg.model`` as the Runner would (default scope,
            top-level ``data_preprocessor``); ``'backbone'`` builds ``cfg.model.backbone``
            (``cfg.model`` when it has none).
        **overrides: Arguments merged over the built dict's top level (constructor arguments of a
            name or a backbone).

    Returns:
        The built module.

    Raises:
        ValueError: ``model`` is neither a config file nor a registered name, or ``part`` is
            unknown.

    Example:
        >>> from mmbackbones import build_model
        >>> build_model('resnet18', out_indices=(3, )).out_channels
        (512,)
        >>> build_model(dict(type='ResNet', depth=18), num_stages=2).out_channels
        (64, 128)
    """
    if part not in ('model', 'backbone'):
        raise ValueError(f"part={part!r} is not supported; allowed: ['model', 'backbone'].")
    if isinstance(model, dict):
        return MODELS.build({**model, **overrides})
    if not isinstance(model, (str, os.PathLike)) or os.fspath(model).endswith('.py') or \
            osp.isfile(model):
        return _build_from_config(model, part, overrides)
    if model not in MODELS:
        names = sorted(MODELS.module_dict)
        close = difflib.get_close_matches(model, names, n=3)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        raise ValueError(f'{model!r} is neither a config file nor a registered model.{hint} '
                         'List them with: python tools/misc/list_models.py')
    return MODELS.build(dict(type=model, **overrides))


def build_for_tool(spec: str, options: dict | None = None) -> tuple[nn.Module, nn.Module]:
    """What the analysis tools take on their command line: the model and its backbone.

    Args:
        spec: A config file (``.py``) or a registered name.
        options: For a config, ``--cfg-options`` (dotted keys, checked against the config);
            for a name, its constructor arguments.
    """
    if os.fspath(spec).endswith('.py'):
        from .engine.config import load_config
        model = build_model(load_config(os.fspath(spec), options))
    else:
        model = build_model(spec, **(options or {}))
    return model, getattr(model, 'backbone', model)


def _build_from_config(config: Any, part: str, overrides: dict) -> nn.Module:
    from mmengine.config import Config
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmengine.registry import init_default_scope

    from .engine.config import build_model_from_cfg, load_config
    cfg = config if isinstance(config, Config) else load_config(os.fspath(config))
    if part == 'model':
        cfg = cfg.copy()
        cfg.model = {**cfg.model, **overrides}
        return build_model_from_cfg(cfg)
    init_default_scope(cfg.get('default_scope', 'mmbackbones'))
    model_cfg = cfg.model.get('backbone', cfg.model)
    return ROOT_MODELS.build({**model_cfg, **overrides})
