"""``build_model``: one way for tools and users to build a model from what they typed."""
from __future__ import annotations

import difflib
import os
import os.path as osp
from typing import Any

import torch.nn as nn

from .registry import MODELS


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
        from .hub import weights_entry
        return _build_pretrained(weights_entry(model).variant, model, pretrained, overrides)
    if model not in MODELS:
        names = sorted(MODELS.module_dict)
        close = difflib.get_close_matches(model, names, n=3)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        raise ValueError(f'{model!r} is neither a config file nor a registered model.{hint} '
                         'List them with: python tools/misc/list_models.py')
    return _build_pretrained(model, model, pretrained, overrides)


def _build_pretrained(variant: str, weights: str, pretrained: bool, overrides: dict) -> nn.Module:
    if not pretrained:
        return MODELS.build(dict(type=variant, **overrides))
    from .hub import init_cfg, weights_entry
    if overrides.get('init_cfg') is not None:
        raise ValueError(f'pretrained=True loads the published weights; got init_cfg='
                         f'{overrides["init_cfg"]!r} too. Pass one of them.')
    arguments = {**weights_entry(weights).arguments, **overrides}  # what the weights need
    built = MODELS.build(dict(type=variant, **arguments, init_cfg=init_cfg(weights)))
    built.init_weights()
    return built


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
