"""Parameters and multiply-accumulates (MACs) of a model, in total and per stage.

Two counting conventions, both counting one multiply-add as one operation (what every zoo
calls "FLOPs"; the reference numbers are in ``configs/<family>/metafile.yml``):

* ``'torchvision'``: MACs of conv and linear layers of the whole model, classifier fc included
  (torchvision's ``_ops``, the paper convention). ResNet-50 @224: 4.089 G, 25,557,032 params.
* ``'mmengine'``: ``mmengine.analysis.FlopAnalyzer`` (fvcore rules: conv/linear plus BN and
  adaptive pooling elements), on ``extract_feat`` for classifiers, so the head is not counted:
  what mmpretrain's ``get_flops.py`` prints. ResNet-50 @224: 4.109 G.

Parameters are all of the model's parameters (frozen ones included) in both conventions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..models.backbones import BaseBackbone

CONVENTIONS = ('torchvision', 'mmengine')


@dataclass
class Complexity:
    """What :func:`measure_complexity` found; ``rows`` are ``(part, params, macs)``."""

    input_shape: tuple[int, ...]
    convention: str
    params: int = 0
    macs: int = 0
    rows: list[tuple[str, int, int]] = field(default_factory=list)

    def format(self) -> str:
        width = max([len(r[0]) for r in self.rows] + [5])
        lines = [f'input {tuple(self.input_shape)}, convention {self.convention!r} '
                 f'(1 multiply-add = 1 FLOP)',
                 f'{"part":<{width}}  {"params":>12}  {"MACs":>10}']
        for name, params, macs in self.rows + [('total', self.params, self.macs)]:
            lines.append(f'{name:<{width}}  {params:>12,}  {_human(macs):>10}')
        return '\n'.join(lines)


def _human(n: float) -> str:
    for unit, scale in (('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(n) >= scale:
            return f'{n / scale:.3f}{unit}'
    return f'{n:.0f}'


def _parts(model: nn.Module) -> list[tuple[str, list[str]]]:
    """(part name, module-name prefixes) in forward order: stem, each stage, neck, head."""
    backbone, prefix = model, ''
    if not isinstance(model, BaseBackbone) and isinstance(getattr(model, 'backbone', None),
                                                           BaseBackbone):
        backbone, prefix = model.backbone, 'backbone.'
    if not isinstance(backbone, BaseBackbone):
        return [('model', [''])]
    names = {id(m): n for n, m in backbone.named_modules()}

    def paths(modules) -> list[str]:
        return [prefix + names[id(m)] for m in modules if id(m) in names]

    parts = [('stem', paths(backbone._stem_modules))]
    for name, stage in zip(backbone.stage_names, backbone.stages()):
        # a child stage (layer1), or a view of modules kept elsewhere (VGG's features.i)
        parts.append((name, paths([stage]) if id(stage) in names else paths(stage)))
    if prefix:
        parts += [(n, [n]) for n, _ in model.named_children() if n not in ('backbone',
                                                                           'data_preprocessor')]
    return parts


def _owner(name: str, parts: list[tuple[str, list[str]]]) -> str:
    for part, prefixes in parts:
        for p in prefixes:
            if p == '' or name == p or name.startswith(p + '.'):
                return part
    return 'other'


def measure_complexity(model: nn.Module, input_shape: tuple[int, ...],
                       convention: str = 'torchvision') -> Complexity:
    """Count parameters and MACs of ``model`` for one input of ``input_shape`` (batch included).

    ``model`` is a backbone or an mmpretrain classifier (``backbone``/``neck``/``head``); the
    rows are its stem, each stage, then neck and head.

    Args:
        model: The model; it is put in eval mode.
        input_shape: e.g. ``(1, 3, 224, 224)``.
        convention: One of :data:`CONVENTIONS`.

    Example:
        >>> from mmbackbones import MODELS
        >>> print(measure_complexity(MODELS.build(dict(type='resnet18')),
        ...                          (1, 3, 224, 224)).format())
        input (1, 3, 224, 224), convention 'torchvision' (1 multiply-add = 1 FLOP)
        part          params        MACs
        stem           9,536    118.014M
        ...
    """
    if convention not in CONVENTIONS:
        raise ValueError(f'convention={convention!r} is not one of {CONVENTIONS}.')
    model.eval()
    parts = _parts(model)
    x = torch.zeros(*input_shape)
    params = {p: 0 for p, _ in parts}
    for name, p in model.named_parameters():
        part = _owner(name, parts)
        params[part] = params.get(part, 0) + p.numel()
    macs = {p: 0 for p in params}
    is_classifier = hasattr(model, 'extract_feat') and hasattr(model, 'head')
    if convention == 'torchvision':
        hooks = []

        def count(module, inputs, output, part):
            if isinstance(module, nn.Linear):
                n = output.numel() * module.in_features
            else:  # one MAC per kernel weight per output element
                n = output.numel() * (module.in_channels // module.groups) * \
                    int(torch.tensor(module.kernel_size).prod())
            macs[part] = macs.get(part, 0) + int(n)

        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
                part = _owner(name, parts)
                hooks.append(module.register_forward_hook(
                    lambda m, i, o, part=part: count(m, i, o, part)))
        try:
            with torch.no_grad():
                model(x, mode='tensor') if is_classifier else model(x)
        finally:
            for h in hooks:
                h.remove()
    else:
        from mmengine.analysis import FlopAnalyzer

        class _Features(nn.Module):  # mmpretrain's get_flops counts extract_feat only
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, inputs):
                return self.inner.extract_feat(inputs)

        target, prefix = (_Features(model), 'inner.') if is_classifier else (model, '')
        analyzer = FlopAnalyzer(target, (x, )).unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        by_module = analyzer.by_module()
        for part, prefixes in parts:
            macs[part] = sum(int(by_module.get(prefix + p, 0)) for p in prefixes)
        total_macs = int(analyzer.total())
    rows = [(p, params.get(p, 0), macs.get(p, 0)) for p in params]
    if convention == 'torchvision':
        total_macs = sum(macs.values())
    return Complexity(tuple(input_shape), convention, sum(params.values()), total_macs, rows)
