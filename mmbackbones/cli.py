"""What the command-line tools share: one meaning for each model argument.

The tools (``tools/analysis_tools/{benchmark,get_flops}.py``, ``tools/deployment/export.py``,
``tools/visualization/feature_maps.py``) take their model the same way, through
:func:`add_model_arguments` and :func:`build_for_tool`:

* ``MODEL_OR_CONFIG``: a registered name (``resnet50``, ``ResNet``) or a config file;
* ``--model-args KEY=VALUE ...``: constructor arguments of what is built (values as Python
  literals), as ``build_model(name, **model_args)``;
* ``--cfg-options KEY=VALUE ...``: mmengine's dotted overrides of a config file;
* ``--checkpoint PATH``: weights for the backbone (any layout our loader knows, or a deployed
  checkpoint, which switches the model to deploy mode);
* ``--shape DIM ...``: ``S`` (a square side), ``H W``, or the full input shape; see
  :func:`input_shape`.
"""
from __future__ import annotations

import argparse
import ast
import os
import os.path as osp
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn as nn
from mmengine.config import DictAction

from .build import BuildError, build_model
from .checkpoint import load_pretrained, read_state_dict
from .checkpoint.deploy_state import is_deployed_checkpoint
from .config import load_config

__all__ = ['BuildError', 'ToolModel', 'add_model_arguments', 'build_for_export',
           'build_for_tool', 'build_labelled', 'input_shape', 'load_tool_checkpoint',
           'parse_model_args']


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
    if is_deployed_checkpoint(read_state_dict(checkpoint)):
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


# ---------------------------------------------------------------- export and benchmarks
def build_labelled(spec: str, model_args: dict | None = None,
                   cfg_options: dict | None = None) -> tuple[str, nn.Module]:
    """``(label, backbone)``: exactly the registered name, or a config file's ``model.backbone``
    (``model`` when it has none), with ``model_args`` and ``cfg_options``."""
    label, _, backbone = build_for_tool(spec, model_args, cfg_options, part='backbone')
    return label, backbone


def build_for_export(spec: str, checkpoint: str | None = None, model_args: dict | None = None,
                     cfg_options: dict | None = None,
                     fuse: bool = True) -> tuple[str, nn.Module]:
    """Build ``spec``, load ``checkpoint`` (a deployed one into a deployed model), eval, fold."""
    label, model = build_labelled(spec, model_args, cfg_options)
    model.eval()
    if checkpoint is not None:
        load_tool_checkpoint(model, checkpoint, fuse)
    if fuse and hasattr(model, 'switch_to_deploy'):
        model.switch_to_deploy()
    torch.manual_seed(0)
    return label, model
