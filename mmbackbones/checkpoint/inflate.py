"""Initialising a 3D network from a 2D checkpoint by inflating its conv kernels over time.

The 2D checkpoint (our ResNet, mmdet, mmpretrain or torchvision layout) is read with the shared
safe reader, its prefix found as the loader does (``backbone.`` of detectors and classifiers),
and its keys renamed by the matching 2D network's ``remap_state_dict``: the 3D model names that
network with :meth:`twin_2d`. Because our 3D ResNet reuses the 2D blocks, the names are then the
same in 2D and 3D: a 4-D conv weight whose 3D counterpart is 5-D is inflated, every other tensor
of equal shape (norms, 1x1 convs in a 3D model are still 5-D and get inflated with t=1) is copied.

Methods, for a temporal kernel of size ``t``:

* ``'mean'`` (I3D, https://arxiv.org/abs/1705.07750): the 2D kernel repeated over time and divided
  by ``t``; a clip of identical frames gives the 2D features wherever no temporal zero padding is
  in the receptive field.
* ``'center'``: the 2D kernel at the middle time step, zeros elsewhere; a clip of identical frames
  gives the 2D features at every time step.
* ``'repeat'``: the 2D kernel repeated over time, not divided (the response to a static clip is
  ``t`` times the 2D one).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .io import extract_state_dict, load_file
from .loader import CheckpointMismatchError, _select_prefix

INFLATE_METHODS = ('mean', 'center', 'repeat')


@dataclass
class InflateReport:
    """What inflation did: 3D keys inflated or copied, 3D keys left untouched, 2D keys unused."""
    checkpoint: str
    method: str
    prefix: str = ''
    inflated: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    matched_fraction: float = 0.0

    def format(self, limit: int = 12) -> str:

        def show(items):
            items = [str(i) for i in items]
            more = f' ... (+{len(items) - limit} more)' if len(items) > limit else ''
            return f' [{", ".join(items[:limit])}{more}]' if items else ''

        prefix = f" (prefix '{self.prefix}')" if self.prefix else ''
        return '\n'.join([
            f"Inflated {self.checkpoint}{prefix} with method '{self.method}'",
            f'  {self.matched_fraction:.1%} of the model parameters set from 2D weights',
            f'  inflated (2D kernel -> 3D): {len(self.inflated)}{show(self.inflated)}',
            f'  copied (same shape): {len(self.copied)}{show(self.copied)}',
            f'  left untouched in the 3D model: {len(self.untouched)}{show(self.untouched)}',
            f'  unused 2D keys: {len(self.unused)}{show(self.unused)}',
            f'  shape mismatch (skipped): {len(self.mismatched)}' + show(
                f'{k}: 2D {tuple(a)} vs 3D {tuple(b)}' for k, a, b in self.mismatched),
        ])


def inflate_weight(weight: torch.Tensor, time: int, method: str = 'mean') -> torch.Tensor:
    """A 2D conv kernel ``(out, in, h, w)`` as a 3D one ``(out, in, time, h, w)``.

    Example:
        >>> w = torch.ones(8, 3, 7, 7)
        >>> tuple(inflate_weight(w, 5, 'mean').shape), inflate_weight(w, 5, 'mean')[0, 0, :, 0, 0]
        ((8, 3, 5, 7, 7), tensor([0.2000, 0.2000, 0.2000, 0.2000, 0.2000]))
    """
    if method not in INFLATE_METHODS:
        raise ValueError(f'method={method!r} is not supported; allowed: {list(INFLATE_METHODS)}.')
    if weight.dim() != 4:
        raise ValueError(f'inflate_weight needs a 4-D conv kernel, got shape '
                         f'{tuple(weight.shape)}.')
    if method == 'center':
        out = weight.new_zeros(weight.shape[:2] + (time, ) + weight.shape[2:])
        out[:, :, time // 2] = weight
        return out
    out = weight.unsqueeze(2).repeat(1, 1, time, 1, 1)
    return out / time if method == 'mean' else out


def inflate_state_dict(model: nn.Module, state_dict: dict, method: str = 'mean',
                       checkpoint: str = '<state_dict>', prefix: str | None = None,
                       min_match: float = 0.5, logger: str = 'current') -> InflateReport:
    """Set ``model``'s weights from a 2D ``state_dict`` by inflation; report; enforce
    ``min_match`` (the fraction of the model's parameters set from the checkpoint)."""
    if method not in INFLATE_METHODS:
        raise ValueError(f'method={method!r} is not supported; allowed: {list(INFLATE_METHODS)}.')
    if not 0.0 <= min_match <= 1.0:
        raise ValueError(f'min_match={min_match!r} must be in [0, 1].')
    # The 2D network reads the checkpoint (prefix choice and remap), exactly as the loader would.
    twin = model.twin_2d() if hasattr(model, 'twin_2d') else model
    state_dict, used_prefix = _select_prefix(twin, state_dict, set(twin.state_dict()), prefix)
    own = model.state_dict()
    report = InflateReport(checkpoint=checkpoint, method=method, prefix=used_prefix)
    to_load = {}
    for key, value in state_dict.items():
        target = own.get(key)
        if target is None:
            report.unused.append(key)
        elif value.dim() == 4 and target.dim() == 5 and \
                target.shape[:2] + target.shape[3:] == value.shape:
            to_load[key] = inflate_weight(value, target.shape[2], method)
            report.inflated.append(key)
        elif value.shape == target.shape:
            to_load[key] = value
            report.copied.append(key)
        else:
            report.mismatched.append((key, tuple(value.shape), tuple(target.shape)))
    report.untouched = [k for k in own if k not in to_load and
                        not k.endswith('num_batches_tracked')]
    params = dict(model.named_parameters())
    total = sum(p.numel() for p in params.values())
    report.matched_fraction = sum(params[k].numel() for k in to_load if k in params) / total \
        if total else 1.0
    text = report.format()
    if report.matched_fraction < min_match:
        raise CheckpointMismatchError(
            f'{text}\nOnly {report.matched_fraction:.1%} of the parameters of '
            f'{type(model).__name__} were set (min_match={min_match:.0%}); is this the 2D '
            'checkpoint of the matching 2D network? Nothing was loaded.')
    with torch.no_grad():
        model.load_state_dict(to_load, strict=False)
    print_log(text, logger=logger)
    return report


def inflate_pretrained(model: nn.Module, checkpoint: str, method: str = 'mean',
                       prefix: str | None = None, min_match: float = 0.5,
                       logger: str = 'current') -> InflateReport:
    """Inflate a 2D checkpoint file (path, URL or ``torchvision://name``) into a 3D ``model``.

    Args:
        model: The 3D backbone, e.g. ``ResNet3d``; its ``twin_2d()`` names the 2D network.
        checkpoint: Path, URL or OpenMMLab model-zoo name of the 2D checkpoint.
        method: ``'mean'`` (I3D), ``'center'`` or ``'repeat'``.
        prefix: Use only the keys under this prefix; ``backbone.`` is found automatically.
        min_match: Fail when less than this fraction of the model's parameters is set.
        logger: mmengine logger name for the report.

    Example:
        >>> import torch, torchvision
        >>> from mmbackbones.models import ResNet3d
        >>> torch.save(torchvision.models.resnet18().state_dict(), '/tmp/r18.pth')
        >>> report = inflate_pretrained(ResNet3d(depth=18), '/tmp/r18.pth', 'center')
        >>> len(report.inflated), len(report.copied), report.unused
        (20, 100, ['fc.weight', 'fc.bias'])
    """
    state_dict = extract_state_dict(load_file(checkpoint))
    return inflate_state_dict(model, state_dict, method=method, checkpoint=checkpoint,
                              prefix=prefix, min_match=min_match, logger=logger)
