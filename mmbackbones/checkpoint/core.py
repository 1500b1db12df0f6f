"""The one path from a checkpoint's weights into a model, shared by the loader and inflation.

1. :func:`match_checkpoint`: which layout (:mod:`.layouts`) and which prefix (``''``, the
   ``backbone.``/``neck.`` of detectors and classifiers, or one a layout declares) give the
   renaming that names most of the model's keys.
2. The caller (:func:`~.loader.load_state_dict_report`, :func:`~.inflate.inflate_state_dict`)
   pairs the renamed weights with the model's and fills its report (:class:`Report`).
3. :func:`commit`: fail with the report, loading nothing, when less than ``min_match`` of the
   parameters would be set; otherwise load and log the report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .errors import CheckpointMismatchError
from .layouts import LAYOUTS, Layout

#: Where wrapper models (detectors, classifiers, recognizers) keep the part we load.
AUTO_PREFIXES = ('backbone.', 'model.backbone.', 'encoder.', 'neck.')

#: Our own names (and any checkpoint no layout claims): no renaming.
NATIVE = Layout(name='mmbackbones', detect=lambda state_dict, model: True)


@dataclass
class Match:
    """The renamed weights and how they were found."""
    layout: str
    prefix: str
    state_dict: dict


def _under(state_dict: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def align_avg_down_shortcuts(state_dict: dict, own: set) -> dict:
    """Shift ``downsample.{i}`` down by one where the checkpoint's shortcut has three entries
    (an AvgPool or Identity at ``downsample.0`` even where the stage does not stride: timm,
    mmpretrain's and the official Res2Net) and the model's has two (no pool without stride)."""
    shifted = {m[1] for m in (re.match(r'(layer\d+\.\d+\.downsample\.)2\.', k)
                              for k in state_dict) if m}
    shifted = {p for p in shifted if f'{p}2.weight' not in own}
    if not shifted:
        return state_dict
    out = {}
    for key, value in state_dict.items():
        m = re.match(r'(layer\d+\.\d+\.downsample\.)(\d+)\.(.+)$', key)
        if m and m[1] in shifted:
            key = f'{m[1]}{int(m[2]) - 1}.{m[3]}'
        out[key] = value
    return out


def match_checkpoint(model: nn.Module, state_dict: dict, prefix: str | None = None) -> Match:
    """Rename ``state_dict`` to ``model``'s names with the layout and prefix that match best.

    Args:
        model: The module to load into (for inflation: its 2D twin).
        state_dict: The checkpoint's weights, wrapper prefixes included.
        prefix: Use only the keys under this prefix (``'backbone'`` means ``'backbone.'``).

    Returns:
        The renamed weights, the layout's name and the prefix used. Ties go to a layout that
        recognised the checkpoint over ``'mmbackbones'`` (no renaming), then to name order.
    """
    own = set(model.state_dict())
    if prefix:
        if not prefix.endswith('.'):  # mmengine's Pretrained accepts 'backbone' for 'backbone.'
            prefix += '.'
        if not any(k.startswith(prefix) for k in state_dict):
            raise KeyError(f"prefix={prefix!r}: no checkpoint key starts with it; keys look like "
                           f'{sorted(state_dict)[:5]}.')
        seen = _under(state_dict, prefix)
    else:
        seen = state_dict
    layouts = [lay for lay in LAYOUTS if lay.detect(seen, model)] + [NATIVE]
    best: tuple[int, Match] | None = None
    for layout in layouts:
        for candidate in [prefix] if prefix else ('', ) + AUTO_PREFIXES + layout.prefixes:
            sub = _under(state_dict, candidate)
            if not sub:
                continue
            renamed = align_avg_down_shortcuts(layout.key_map(model)(sub, model), own)
            overlap = len(own & set(renamed))
            if best is None or overlap > best[0]:
                best = (overlap, Match(layout.name, candidate, renamed))
    return best[1] if best is not None else Match(NATIVE.name, '', {})


# ----------------------------------------------------------------------------- reports
def _show(items, limit: int) -> str:
    items = [str(i) for i in items]
    if not items:
        return ''
    more = f' ... (+{len(items) - limit} more)' if len(items) > limit else ''
    return f' [{", ".join(items[:limit])}{more}]'


@dataclass
class Report:
    """What a load did; :meth:`format` prints it. Subclasses name their sections."""
    checkpoint: str
    prefix: str = ''
    layout: str = ''
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    matched_fraction: float = 0.0

    #: How the mismatch lines name the two sides.
    sides = ('checkpoint', 'model')

    def title(self, where: str) -> str:
        """The first line; ``where`` is the checkpoint and its prefix."""
        raise NotImplementedError

    def summary(self) -> str:
        raise NotImplementedError

    def sections(self) -> list[tuple[str, list]]:
        """``(label, items)`` per line after the summary, before the shape mismatches."""
        raise NotImplementedError

    def format(self, limit: int = 12) -> str:
        prefix = f" (prefix '{self.prefix}')" if self.prefix else ''
        ckpt_side, model_side = self.sides
        lines = [self.title(f'{self.checkpoint}{prefix}')]
        if self.layout:
            lines.append(f'  layout: {self.layout}')
        lines.append(f'  {self.summary()}')
        lines += [f'  {label}: {len(items)}{_show(items, limit)}'
                  for label, items in self.sections()]
        lines.append(f'  shape mismatch (skipped): {len(self.mismatched)}' + _show(
            (f'{k}: {ckpt_side} {tuple(a)} vs {model_side} {tuple(b)}'
             for k, a, b in self.mismatched),
            limit))
        return '\n'.join(lines)


def two_d_checkpoint_message(model: nn.Module, report: Report) -> str | None:
    """When a 3D model met a 2D checkpoint (its conv kernels 4-D where ours are 5-D), say so
    and how to inflate it, instead of listing every shape."""
    flat = [(k, a, b) for k, a, b in report.mismatched if len(a) == 4 and len(b) == 5]
    if not flat or len(flat) < len(report.mismatched) / 2:
        return None
    key, a, b = flat[0]
    return (f'{report.checkpoint} is a 2D checkpoint: {len(flat)} conv kernels are 4-D where '
            f'{type(model).__name__} has 5-D ones (e.g. {key}: {tuple(a)} vs {tuple(b)}). '
            'Inflate it over time instead of loading it: build the model with '
            f"pretrained='{report.checkpoint}', pretrained2d=True (mmaction2's arguments), or "
            f"call mmbackbones.checkpoint.inflate_pretrained(model, '{report.checkpoint}', "
            "method='mean'). Nothing was loaded.")


def commit(model: nn.Module, to_load: dict, report: Report, min_match: float, verb: str,
           question: str, logger: str = 'current',
           explain: Callable[[nn.Module, Report], str | None] | None = None) -> None:
    """Set ``report.matched_fraction``; fail with the report (nothing loaded) below
    ``min_match``, else load ``to_load`` into ``model`` and log the report.

    ``verb`` and ``question`` finish the failure message ("Only 3% of the parameters of ResNet
    <verb> ...; <question>"); ``explain(model, report)`` may return a shorter, more specific
    failure message instead (e.g. :func:`two_d_checkpoint_message`)."""
    params = dict(model.named_parameters())
    total = sum(p.numel() for p in params.values())
    report.matched_fraction = sum(params[k].numel() for k in to_load if k in params) / total \
        if total else 1.0
    if report.matched_fraction < min_match:
        specific = explain(model, report) if explain is not None else None
        if specific is not None:
            raise CheckpointMismatchError(specific)
        raise CheckpointMismatchError(
            f'{report.format()}\nOnly {report.matched_fraction:.1%} of the parameters of '
            f'{type(model).__name__} {verb} (min_match={min_match:.0%}); {question} Nothing was '
            'loaded.')
    with torch.no_grad():
        model.load_state_dict(to_load, strict=False)
    print_log(report.format(), logger=logger)


def check_min_match(min_match: float) -> None:
    if not 0.0 <= min_match <= 1.0:
        raise ValueError(f'min_match={min_match!r} must be in [0, 1].')
