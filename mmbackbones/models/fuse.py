"""Folding BatchNorm into the conv it follows, by declared (conv, norm) pairs.

Which norm follows which conv is declared, not guessed from module order:

* a module that knows its own wiring defines ``conv_norm_pairs() -> list[tuple[str, str]]``:
  dotted names, relative to itself, of a conv and the norm that consumes exactly that conv's
  output (and nothing else reads the conv's raw output) - the residual blocks, Res2Net's per-split
  ``convs.i``/``bns.i``, the ResNet/ResNet3d stems;
* in an ``nn.Sequential`` children run in registration order, so an adjacent (conv, norm) pair
  is one (shortcut ``downsample``, the deep ``stem``, Inception branches);
* an mmcv ``ConvModule`` whose ``order`` puts its norm right after its conv (``('conv', 'norm',
  'act')``; not a pre-norm ``('norm', 'act', 'conv')``).

mmcv's ``fuse_conv_bn`` instead pairs any conv with the next registered BN, which is wrong for
pre-norm orders and misses Res2Net's ``convs``/``bns`` lists; it is not used.

A BN (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``; frozen or not) with running statistics folds into
a ``torch.nn`` conv (any dims, groups, dilation; a bias is created when absent) using its eval
statistics, and is replaced by ``nn.Identity``. GN/LN/IN, a BN without running statistics, a norm
after a conv that is not a plain ``torch.nn`` conv (mmcv's deformable convs) or after no declared
conv are left in place and listed in the :class:`FuseReport`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from ..checkpoint.deploy_state import is_deployed, mark_deployed

#: Norm layers the report accounts for (folded or not).
NORM_TYPES = (_BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm,
              nn.LocalResponseNorm)


@dataclass
class FuseReport:
    """What :func:`fuse_conv_bn` did: ``folded`` ``(conv, norm)`` names and ``skipped``
    ``(norm, reason)`` for every norm layer left in place."""

    folded: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, limit: int = 8) -> str:
        lines = [f'conv-BN folding: {len(self.folded)} norm layers folded into their convs, '
                 f'{len(self.skipped)} left in place']
        for name, reason in self.skipped[:limit]:
            lines.append(f'  kept {name}: {reason}')
        if len(self.skipped) > limit:
            lines.append(f'  ... (+{len(self.skipped) - limit} more)')
        return '\n'.join(lines)

    def __str__(self) -> str:
        return self.summary()


def _join(prefix: str, name: str) -> str:
    return f'{prefix}.{name}' if prefix else name


def _conv_module_pair(module: nn.Module) -> tuple[str, str] | None:
    """The (conv, norm) pair of an mmcv ``ConvModule`` whose norm directly follows its conv."""
    order = getattr(module, 'order', None)
    if not getattr(module, 'with_norm', False) or order is None:
        return None
    if 'conv' in order and 'norm' in order and order.index('norm') == order.index('conv') + 1:
        return 'conv', module.norm_name
    return None


def declared_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Every (conv, norm) pair in ``model`` as full dotted names, by the three rules above."""
    try:
        from mmcv.cnn import ConvModule
    except ImportError:  # pragma: no cover - mmcv is a dependency
        ConvModule = ()
    pairs: list[tuple[str, str]] = []
    for prefix, module in model.named_modules():
        local: list[tuple[str, str]] = []
        if hasattr(module, 'conv_norm_pairs'):
            local += list(module.conv_norm_pairs())
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            for (cname, conv), (nname, norm) in zip(children, children[1:]):
                if isinstance(conv, _ConvNd) and isinstance(norm, NORM_TYPES):
                    local.append((cname, nname))
        if ConvModule and isinstance(module, ConvModule):
            pair = _conv_module_pair(module)
            if pair is not None:
                local.append(pair)
        pairs += [(_join(prefix, c), _join(prefix, n)) for c, n in local]
    seen, unique = set(), []
    for pair in pairs:
        if pair not in seen:
            seen.add(pair)
            unique.append(pair)
    return unique


def fold_bn_into_conv(conv: _ConvNd, bn: _BatchNorm) -> None:
    """Fold ``bn``'s eval-mode affine transform into ``conv`` in place (weights and bias)."""
    with torch.no_grad():
        w = conv.weight
        var = bn.running_var.to(torch.float64)
        scale = torch.rsqrt(var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight.to(torch.float64)
        shift = -bn.running_mean.to(torch.float64) * scale
        if bn.bias is not None:
            shift = shift + bn.bias.to(torch.float64)
        bias = conv.bias.to(torch.float64) if conv.bias is not None else \
            torch.zeros(w.shape[0], dtype=torch.float64, device=w.device)
        # weight is (out, in / groups, *kernel) for every ConvNd: scale along dim 0
        new_w = (w.to(torch.float64) * scale.reshape(-1, *([1] * (w.dim() - 1)))).to(w.dtype)
        new_b = (bias * scale + shift).to(w.dtype)
        conv.weight.copy_(new_w)
        if conv.bias is None:
            conv.bias = nn.Parameter(new_b, requires_grad=w.requires_grad)
        else:
            conv.bias.copy_(new_b)


def _why_not(conv: nn.Module, norm: nn.Module) -> str | None:
    if not isinstance(norm, _BatchNorm):
        return f'{type(norm).__name__} normalises with statistics of the input: not foldable'
    if norm.running_mean is None or norm.running_var is None:
        return 'BatchNorm without running statistics (track_running_stats=False)'
    if not isinstance(conv, _ConvNd) or isinstance(conv, nn.modules.conv._ConvTransposeNd):
        return (f'follows a {type(conv).__name__}, not a plain torch.nn conv '
                '(e.g. a deformable conv): not folded')
    if conv.weight.shape[0] != norm.num_features:
        return (f'the conv has {conv.weight.shape[0]} output channels, the norm '
                f'{norm.num_features}')
    return None


def fuse_conv_bn(model: nn.Module) -> FuseReport:
    """Fold every BN of ``model`` that follows a declared conv; report the rest.

    Args:
        model: Any module; folded in place. Its BN layers' running statistics are used (eval
            mode), whatever mode the model is in.

    Returns:
        A :class:`FuseReport` of the folded pairs and of the norm layers left in place, with why.
    """
    modules = dict(model.named_modules())
    report = FuseReport()
    handled: set[str] = set()
    for conv_name, norm_name in declared_pairs(model):
        conv, norm = modules.get(conv_name), modules.get(norm_name)
        if conv is None or norm is None or norm_name in handled:
            continue
        if isinstance(norm, nn.Identity):  # already folded
            handled.add(norm_name)
            continue
        reason = _why_not(conv, norm)
        if reason is not None:
            report.skipped.append((norm_name, reason))
            handled.add(norm_name)
            continue
        fold_bn_into_conv(conv, norm)
        parent_name, _, attr = norm_name.rpartition('.')
        parent = modules[parent_name] if parent_name else model
        setattr(parent, attr, nn.Identity())
        if hasattr(parent, 'efficient_conv_bn_eval_forward'):
            # mmcv's ConvModule may hold a partial over the old norm (efficient conv-BN eval)
            parent.efficient_conv_bn_eval_forward = None
        report.folded.append((conv_name, norm_name))
        handled.add(norm_name)
    for name, module in modules.items():
        if isinstance(module, NORM_TYPES) and name not in handled:
            why = _why_not(nn.Identity(), module) if not isinstance(module, _BatchNorm) else \
                'no conv is declared before it (see conv_norm_pairs)'
            report.skipped.append((name, why))
    return report


def switch_to_deploy(module: nn.Module, verbose: bool = True) -> FuseReport:
    """Put ``module`` in deploy mode: eval, BN folded, a marker buffer in its state dict.

    Calling it again does nothing (an empty report). Afterwards ``module.train()`` raises, and
    its checkpoints only load into deployed models
    (:func:`~mmbackbones.checkpoint.deploy_state.check_deploy_state`).
    """
    if is_deployed(module):
        return FuseReport()
    module.eval()
    report = fuse_conv_bn(module)
    mark_deployed(module)
    if verbose:
        print_log(f'{type(module).__name__}.switch_to_deploy(): {report.summary()}',
                  logger='current')
    return report
