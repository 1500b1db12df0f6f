"""Build a backbone for export/benchmarking from a registered name or a config file."""
from __future__ import annotations

import ast
import os.path as osp
from collections.abc import Sequence

import torch.nn as nn


class BuildError(ValueError):
    """The name/config/checkpoint given does not build a model."""


def parse_overrides(items: Sequence[str]) -> dict:
    """``KEY=VALUE`` strings, values as Python literals (else strings)."""
    extra = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep:
            raise BuildError(f'argument {item!r} must be KEY=VALUE.')
        try:
            extra[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            extra[key] = value
    return extra


def build_labelled(spec: str, overrides: dict | None = None) -> tuple[str, nn.Module]:
    """``(label, backbone)``: a config file's ``model.backbone`` (or ``model``), or a registered
    name; a class name without arguments gets its ``example_args``."""
    from ..build import build_model
    from ..registry import MODELS
    overrides = dict(overrides or {})
    if spec.endswith('.py'):
        if not osp.isfile(spec):
            raise BuildError(f'config file {spec!r} does not exist.')
        return osp.splitext(osp.basename(spec))[0], build_model(spec, part='backbone',
                                                                  **overrides)
    obj = MODELS.get(spec)
    if obj is None:
        raise BuildError(f'{spec!r} is neither a config file nor a registered model; see '
                         'python tools/misc/list_models.py.')
    example = dict(obj.example_args) if isinstance(obj, type) else {}
    return spec, build_model(spec, **{**example, **overrides})


def build_for_export(spec: str, checkpoint: str | None = None,
                     overrides: Sequence[str] = (), fuse: bool = True) -> tuple[str, nn.Module]:
    """Build ``spec``, load ``checkpoint`` (a deployed one into a deployed model), eval, fold."""
    import torch

    from .fuse import DEPLOY_MARKER
    label, model = build_labelled(spec, parse_overrides(overrides))
    model.eval()
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise BuildError(f'--checkpoint {checkpoint!r}: no such file.')
        from ..checkpoint import load_pretrained
        from ..checkpoint.io import extract_state_dict, load_file
        state = extract_state_dict(load_file(checkpoint))
        if any(k.endswith(DEPLOY_MARKER) for k in state):
            if not fuse:
                raise BuildError(f'{checkpoint} is a deployed (folded) checkpoint; it needs '
                                 'the folded model (drop --no-fuse).')
            model.switch_to_deploy()
        load_pretrained(model, checkpoint)
    if fuse and hasattr(model, 'switch_to_deploy'):
        model.switch_to_deploy()
    torch.manual_seed(0)
    return label, model
