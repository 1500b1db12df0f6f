"""Initialising a 3D network from a 2D checkpoint by inflating its conv kernels over time.

The 2D checkpoint (ours, or any layout of :mod:`mmbackbones.checkpoint.layouts`: mmdet,
mmpretrain, torchvision, timm, detectron2) is read with the shared safe reader, and its layout and
prefix are found and its keys renamed exactly as the loader does, for the matching 2D network: the
3D model names that network with :meth:`twin_2d`. Because our 3D ResNet reuses the 2D blocks, the
names are then the same in 2D and 3D: a 4-D conv weight whose 3D counterpart is 5-D is inflated,
every other tensor of equal shape (norms, 1x1 convs in a 3D model are still 5-D and get inflated
with t=1) is copied.

Methods, for a temporal kernel of size ``t``:

* ``'mean'`` (I3D, https://arxiv.org/abs/1705.07750): the 2D kernel repeated over time and divided
  by ``t``; a clip of identical frames gives the 2D features wherever no temporal zero padding is
  in the receptive field.
* ``'center'``: the 2D kernel at the middle time step, zeros elsewhere; a clip of identical frames
  gives the 2D features at every time step.
* ``'repeat'``: the 2D kernel repeated over time, not divided (the response to a static clip is
  ``t`` times the 2D one).

From a config: ``init_cfg=dict(type='Inflate', checkpoint=..., method=...)`` (:class:`InflateInit`,
an mmengine weight initializer).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from mmengine.registry import WEIGHT_INITIALIZERS

from .core import Report, check_min_match, commit, match_checkpoint
from .errors import CheckpointMismatchError
from .io import read_state_dict

INFLATE_METHODS = ('mean', 'center', 'repeat')

__all__ = ['CheckpointMismatchError', 'InflateInit', 'InflateReport', 'inflate_pretrained',
           'inflate_state_dict', 'inflate_weight']


@dataclass
class InflateReport(Report):
    """What inflation did: 3D keys inflated or copied, 3D keys left untouched, 2D keys unused."""
    method: str = 'mean'
    inflated: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    sides = ('2D', '3D')

    def title(self, where: str) -> str:
        return f"Inflated {where} with method '{self.method}'"

    def summary(self) -> str:
        return f'{self.matched_fraction:.1%} of the model parameters set from 2D weights'

    def sections(self) -> list[tuple[str, list]]:
        return [('inflated (2D kernel -> 3D)', self.inflated), ('copied (same shape)', self.copied),
                ('left untouched in the 3D model', self.untouched),
                ('unused 2D keys', self.unused)]


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
    check_min_match(min_match)
    # The 2D network reads the checkpoint (layout, prefix, renaming), exactly as the loader would.
    twin = model.twin_2d() if hasattr(model, 'twin_2d') else model
    match = match_checkpoint(twin, state_dict, prefix)
    own = model.state_dict()
    report = InflateReport(checkpoint=checkpoint, method=method, prefix=match.prefix,
                           layout=match.layout)
    to_load = {}
    for key, value in match.state_dict.items():
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
    commit(model, to_load, report, min_match, verb='were set',
           question='is this the 2D checkpoint of the matching 2D network?', logger=logger)
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
    return inflate_state_dict(model, read_state_dict(checkpoint), method=method,
                              checkpoint=checkpoint, prefix=prefix, min_match=min_match,
                              logger=logger)


@WEIGHT_INITIALIZERS.register_module(name='Inflate')
class InflateInit:
    """``init_cfg=dict(type='Inflate', checkpoint=..., method='mean')``: initialise a 3D network
    from a 2D checkpoint from a config, with :func:`inflate_pretrained`'s report.

    Our modules (``ResNet3d``) run it where they run ``'Pretrained'``: after any other
    ``init_cfg`` entries (e.g. Kaiming for the layers the checkpoint does not cover) and instead of
    the random init's extras (``zero_init_residual`` does not zero inflated norms). Any other
    mmengine ``BaseModule`` with a ``twin_2d()`` runs it through mmengine's ``initialize``.

    Args:
        checkpoint: Path, URL or model-zoo name of the 2D checkpoint (any layout our loader
            reads: ours, mmpretrain, mmdet, torchvision, timm, detectron2).
        method: ``'mean'`` (I3D), ``'center'`` or ``'repeat'``.
        prefix: Use only the keys under this prefix; ``backbone.`` is found automatically.
        min_match: Fail when less than this fraction of the model's parameters is set.
        map_location: Accepted for ``'Pretrained'`` compatibility (tensors are read to CPU).

    Example:
        >>> backbone = dict(type='mmbackbones.ResNet3d', depth=18, init_cfg=dict(
        ...     type='Inflate', method='center',
        ...     checkpoint='work_dirs/resnet18_8xb16_digits/best_accuracy_top1_epoch_5.pth'))
    """

    def __init__(self, checkpoint: str, method: str = 'mean', prefix: str | None = None,
                 min_match: float = 0.5, map_location: str | None = None) -> None:
        if not isinstance(checkpoint, str) or not checkpoint:
            raise TypeError(f"init_cfg type='Inflate' needs checkpoint=<2D checkpoint file>, "
                            f'got checkpoint={checkpoint!r}.')
        if method not in INFLATE_METHODS:
            raise ValueError(f'method={method!r} is not supported; allowed: '
                             f'{list(INFLATE_METHODS)}.')
        check_min_match(min_match)
        del map_location
        self.checkpoint, self.method, self.prefix, self.min_match = (checkpoint, method, prefix,
                                                                     min_match)
        #: The report of the last inflation this initializer did.
        self.report: InflateReport | None = None

    def __call__(self, module: nn.Module) -> None:
        self.report = inflate_pretrained(module, self.checkpoint, method=self.method,
                                         prefix=self.prefix, min_match=self.min_match)
        if hasattr(module, '_params_init_info'):  # mmengine's init log of every parameter
            from mmengine.model.weight_init import update_init_info
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'InflateInit: inflated from {self.checkpoint} ({self.method})'
