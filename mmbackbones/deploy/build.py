"""Build a backbone for export or benchmarking: :func:`mmbackbones.build.build_for_tool` for the
backbone part, then ``--checkpoint`` and BN folding."""
from __future__ import annotations

import torch.nn as nn

from ..build import BuildError, build_for_tool, load_tool_checkpoint, parse_model_args

__all__ = ['BuildError', 'build_for_export', 'build_labelled', 'parse_model_args']


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
    import torch
    label, model = build_labelled(spec, model_args, cfg_options)
    model.eval()
    if checkpoint is not None:
        load_tool_checkpoint(model, checkpoint, fuse)
    if fuse and hasattr(model, 'switch_to_deploy'):
        model.switch_to_deploy()
    torch.manual_seed(0)
    return label, model
