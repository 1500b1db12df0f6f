"""``build_model``: one way for tools and users to build a model from what they typed.

The command-line tools (``tools/analysis_tools/{benchmark,get_flops}.py``,
``tools/deployment/export.py``, ``tools/visualization/feature_maps.py``) take their model the same
way, through :func:`add_model_arguments` and :func:`build_for_tool`:

* ``MODEL_OR_CONFIG``: a registered name (``resnet50``, ``ResNet``) or a config file;
* ``--model-args KEY=VALUE ...``: constructor arguments of what is built (values as Python
  literals), as ``build_model(name, **model_args)``;
* ``--cfg-options KEY=VALUE ...``: mmengine's dotted overrides of a config file;
* ``--checkpoint PATH``: weights for the backbone (any layout our loader knows, or a deployed
  checkpoint, which switches the model to deploy mode);
* ``--shape DIM ...``: ``S`` (a square side), ``H W``, or the full input shape; see
  :func:`input_shape`.

A tool builds exactly what the user named: a class that needs arguments (``ResNeXt`` without
``depth``) is refused with the arguments it needs and the named variants that would do.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch.nn as nn

from .registry import MODELS, close_matches


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
        from .hub import weights_entry
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
    from .hub import init_cfg, weights_entry
    if overrides.get('init_cfg') is not None:
        raise ValueError(f'pretrained=True loads the published weights; got init_cfg='
                         f'{overrides["init_cfg"]!r} too. Pass one of them.')
    arguments = {**weights_entry(weights).arguments, **overrides}  # what the weights need
    built = MODELS.build(dict(type=variant, **arguments, init_cfg=init_cfg(weights)))
    built.init_weights()
    return built


def _required_arguments(obj: Any) -> list[str]:
    """Constructor arguments of a registered class or variant that have no default."""
    fixed = set(getattr(obj, 'fixed', ()))
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
        fixed |= set(getattr(klass, 'fixed_args', {}))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return [name for name in dict.fromkeys(required) if name not in fixed]


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


# ---------------------------------------------------------------- the tools' model arguments
def parse_model_args(items: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings as a dict, values as Python literals (else strings).

    Example:
        >>> parse_model_args(['depth=50', "norm_cfg=dict(type='GN', num_groups=8)"])['depth']
        50
    """
    extra = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key.isidentifier():
            raise BuildError(f'--model-args {item!r} must be KEY=VALUE with KEY an argument name.')
        try:
            extra[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            try:  # dict(type='GN', num_groups=8): a call of dict with literal arguments
                extra[key] = _literal_dict_call(value)
            except (ValueError, SyntaxError):
                extra[key] = value
    return extra


def _literal_dict_call(text: str) -> dict:
    node = ast.parse(text, mode='eval').body
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and
            node.func.id == 'dict' and not node.args):
        raise ValueError(text)
    return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


def add_model_arguments(parser: argparse.ArgumentParser, *, many: bool = False,
                        checkpoint: bool = True, shape_help: str = '') -> None:
    """The model arguments every tool takes, with one meaning each (see the module docstring).

    Args:
        parser: The tool's parser.
        many: ``MODEL_OR_CONFIG`` takes one or more values (``benchmark.py``).
        checkpoint: Add ``--checkpoint``.
        shape_help: What the tool's default ``--shape`` is.
    """
    from mmengine.config import DictAction
    parser.add_argument('model', metavar='MODEL_OR_CONFIG', nargs='+' if many else None,
                        help='a registered backbone name or variant (see '
                        'tools/misc/list_models.py) or a config file')
    parser.add_argument('--model-args', nargs='+', default=[], metavar='KEY=VALUE',
                        help='constructor arguments of what is built (a named model, or the '
                        "config's built part), values as Python literals, e.g. depth=50")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='dotted overrides of a config file (mmengine), e.g. '
                        'model.backbone.depth=101')
    if checkpoint:
        parser.add_argument('--checkpoint', metavar='PATH',
                            help='backbone weights: a checkpoint in any layout our loader knows '
                            '(ours, mmdet, mmpretrain, torchvision, timm, ...) or a deployed one')
    parser.add_argument('--shape', type=int, nargs='+', metavar='DIM',
                        help='input shape: S (square side), H W, or the full shape (N C H W, '
                        f'N C T H W for video models). {shape_help}'.strip())


class ToolModel(NamedTuple):
    """What a tool built: a label for its output, the built model and its backbone."""
    label: str
    model: nn.Module
    backbone: nn.Module


def build_for_tool(spec: str, model_args: dict | None = None, cfg_options: dict | None = None,
                   part: str = 'model') -> ToolModel:
    """Build what a tool's ``MODEL_OR_CONFIG``, ``--model-args`` and ``--cfg-options`` name.

    Args:
        spec: A config file (``.py``) or a registered name.
        model_args: Constructor arguments of what is built (``build_model``'s overrides).
        cfg_options: A config's dotted ``--cfg-options`` (checked against the config); a
            registered name has none.
        part: For a config, ``'model'`` (its whole model) or ``'backbone'``.

    Raises:
        BuildError: ``cfg_options`` for a registered name, or a missing config file.

    Example:
        >>> built = build_for_tool('resnet18', dict(out_indices=(3, )))
        >>> built.label, built.backbone.out_channels
        ('resnet18', (512,))
    """
    spec = os.fspath(spec)
    model_args = dict(model_args or {})
    if spec.endswith('.py'):
        from .engine.config import load_config
        label = osp.splitext(osp.basename(spec))[0]
        model = build_model(load_config(spec, cfg_options), part=part, **model_args)
    else:
        if cfg_options:
            raise BuildError(f'--cfg-options {" ".join(cfg_options)}: {spec!r} is a registered '
                             'name, not a config file; give its constructor arguments with '
                             '--model-args KEY=VALUE.')
        label, model = spec, build_model(spec, **model_args)
    return ToolModel(label, model, getattr(model, 'backbone', model))


def load_tool_checkpoint(backbone: nn.Module, checkpoint: str, fuse: bool | None = None) -> None:
    """Load ``--checkpoint`` into ``backbone``; a deployed (BN-folded) checkpoint first switches
    it to deploy mode.

    Args:
        backbone: The built backbone.
        checkpoint: The file.
        fuse: ``False``: the tool runs the unfolded model, so a deployed checkpoint is an error;
            ``True``/``None``: a deployed checkpoint is loaded into the folded model.
    """
    if not osp.isfile(checkpoint):
        raise BuildError(f'--checkpoint {checkpoint!r}: no such file.')
    from .checkpoint import load_pretrained
    from .checkpoint.io import extract_state_dict, load_file
    from .deploy.fuse import DEPLOY_MARKER
    state = extract_state_dict(load_file(checkpoint))
    if any(k.endswith(DEPLOY_MARKER) for k in state):
        if fuse is False:
            raise BuildError(f'{checkpoint} is a deployed (folded) checkpoint; it needs the '
                             'folded model (drop --no-fuse).')
        backbone.switch_to_deploy()
    load_pretrained(backbone, checkpoint)


def input_shape(backbone: nn.Module, shape: Sequence[int] | None, batch: int = 1,
                side: int = 224) -> tuple[int, ...]:
    """The input a tool feeds ``backbone``, from ``--shape``.

    ``None``: ``batch`` and the backbone's ``example_input_shape`` (channels, frames) at
    ``side x side``; ``S``: the same at ``S x S``; ``H W``: at ``H x W``; a full shape (as many
    dimensions as the backbone's input): as given.

    Example:
        >>> from mmbackbones import build_model
        >>> input_shape(build_model('resnet18'), [32])
        (1, 3, 32, 32)
    """
    example = list(getattr(backbone, 'example_input_shape', (1, 3, side, side)))
    if shape is not None:
        shape = list(shape)
        if not shape or any(d < 1 for d in shape) or (2 < len(shape) != len(example)):
            raise BuildError(f'--shape {" ".join(map(str, shape))}: give S, H W or the full '
                             f'{len(example)}-D input shape (e.g. '
                             f'{" ".join(map(str, [batch, *example[1:-2], side, side]))}).')
        if len(shape) > 2:
            return tuple(shape)
    hw = [side, side] if shape is None else (shape * 2)[:2]
    return (batch, *example[1:-2], *hw)
