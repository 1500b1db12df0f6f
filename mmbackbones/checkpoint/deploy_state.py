"""The deploy state of a module: whether its BatchNorm layers were folded into its convs.

A deployed (folded) module carries a marker buffer, ``_deploy_marker``, so the state travels with
its state dict: a folded checkpoint loads only into a folded model and an unfolded one only into
an unfolded model (:func:`check_deploy_state`, called by every load path). The folding itself is
:func:`mmbackbones.models.fuse.switch_to_deploy`.
"""
from __future__ import annotations

import torch
import torch.nn as nn

#: Buffer a deployed (folded) module carries; it travels with its state dict.
DEPLOY_MARKER = '_deploy_marker'


def is_deployed(module: nn.Module) -> bool:
    """Whether ``module`` carries the deploy marker (was folded)."""
    return DEPLOY_MARKER in module._buffers


def mark_deployed(module: nn.Module) -> None:
    """Give ``module`` the marker buffer of a folded module (on its parameters' device)."""
    device = next((p.device for p in module.parameters()), None)
    module.register_buffer(DEPLOY_MARKER, torch.ones((), dtype=torch.uint8, device=device))


def is_deployed_checkpoint(state_dict: dict) -> bool:
    """Whether a state dict was saved from a folded module (any of its keys is a marker)."""
    return any(k.endswith(DEPLOY_MARKER) for k in state_dict)


def check_deploy_state(module: nn.Module, state_dict: dict, prefix: str = '') -> None:
    """Refuse a folded checkpoint for an unfolded ``module``, or the reverse.

    Raises:
        RuntimeError: naming which side is folded and what to do.
    """
    folded_ckpt = prefix + DEPLOY_MARKER in state_dict
    if folded_ckpt == is_deployed(module):
        return
    name = type(module).__name__
    if folded_ckpt:
        raise RuntimeError(
            f'This checkpoint was saved from a deployed {name} (BatchNorm folded into the convs, '
            f"key '{prefix}{DEPLOY_MARKER}'); this {name} is not folded. Call "
            f'model.switch_to_deploy() before loading it, or load a checkpoint saved before '
            'switch_to_deploy().')
    raise RuntimeError(
        f'This {name} is deployed (BatchNorm folded into the convs) and this checkpoint is not '
        f'(no {prefix}{DEPLOY_MARKER!r} key). Load it into a freshly built model, then call '
        'switch_to_deploy().')


def refuse_train(module: nn.Module) -> None:
    """Raise: a deployed module cannot train."""
    raise RuntimeError(
        f'{type(module).__name__} is in deploy mode (BatchNorm folded into the convs by '
        'switch_to_deploy()) and cannot train. Rebuild the model (and load the unfolded '
        'checkpoint) to train it.')
