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


def backbone_cfg(spec: str) -> tuple[str, dict]:
    """``(label, cfg)`` of a registered name (with its class's ``example_args``) or config."""
    from ..registry import MODELS
    if spec.endswith('.py'):
        if not osp.isfile(spec):
            raise BuildError(f'config file {spec!r} does not exist.')
        from mmengine.config import Config
        model_cfg = Config.fromfile(spec).get('model')
        if model_cfg is None:
            raise BuildError(f'{spec}: the config has no `model`.')
        return osp.splitext(osp.basename(spec))[0], dict(model_cfg.get('backbone', model_cfg))
    try:
        obj = MODELS.get(spec)
    except KeyError as err:  # our registry explains what it has
        obj, why = None, f' ({err.args[0]})'
    else:
        why = ''
    if obj is None:
        raise BuildError(f'{spec!r} is neither a config file nor a registered model; see '
                         f'python tools/misc/list_models.py{why}.')
    return spec, dict(type=spec, **(dict(obj.example_args) if isinstance(obj, type) else {}))


def build_for_export(spec: str, checkpoint: str | None = None,
                     overrides: Sequence[str] = (), fuse: bool = True) -> tuple[str, nn.Module]:
    """Build ``spec``, load ``checkpoint`` (a deployed one into a deployed model), eval, fold."""
    import torch

    from ..registry import MODELS
    from .fuse import DEPLOY_MARKER
    label, cfg = backbone_cfg(spec)
    cfg.update(parse_overrides(overrides))
    model = MODELS.build(cfg)
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
