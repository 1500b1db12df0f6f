"""Loading pretrained weights into a backbone, with a report.

The same loader serves ``init_cfg=dict(type='Pretrained', checkpoint=...)`` and
:func:`load_pretrained` called directly. It

1. reads the file safely (:mod:`mmbackbones.checkpoint.io`);
2. takes the weights out of the checkpoint and, when given or needed, the sub-dict under a prefix
   (``backbone.`` of mmdet detectors and mmpretrain classifiers is found automatically);
3. lets the model rename foreign layouts (``model.remap_state_dict``: mmpretrain, timm, ...);
4. loads what matches by name and shape and prints matched/missing/unexpected/mismatched keys;
5. fails with that report when less than ``min_match`` of the model's parameters were loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .io import extract_state_dict, load_file

AUTO_PREFIXES = ('backbone.', 'model.backbone.', 'encoder.', 'neck.')


class CheckpointMismatchError(ValueError):
    """The checkpoint matched too little of the model; the message holds the report."""


@dataclass
class LoadReport:
    checkpoint: str
    prefix: str = ''
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    matched_fraction: float = 0.0

    def format(self, limit: int = 12) -> str:

        def show(items):
            items = [str(i) for i in items]
            more = f' ... (+{len(items) - limit} more)' if len(items) > limit else ''
            return ', '.join(items[:limit]) + more

        lines = [f'Loaded {self.checkpoint}' + (f" (prefix '{self.prefix}')" if self.prefix
                                                 else ''),
                 f'  matched: {len(self.matched)} tensors, {self.matched_fraction:.1%} of the '
                 'model parameters',
                 f'  missing in checkpoint: {len(self.missing)}' +
                 (f' [{show(self.missing)}]' if self.missing else ''),
                 f'  unexpected in checkpoint: {len(self.unexpected)}' +
                 (f' [{show(self.unexpected)}]' if self.unexpected else ''),
                 f'  shape mismatch (skipped): {len(self.mismatched)}' +
                 (' [' + show(f'{k}: checkpoint {tuple(a)} vs model {tuple(b)}'
                              for k, a, b in self.mismatched) + ']' if self.mismatched else '')]
        return '\n'.join(lines)


def _remap(model: nn.Module, state_dict: dict) -> dict:
    remap = getattr(model, 'remap_state_dict', None)
    return remap(state_dict) if remap is not None else state_dict


def _select_prefix(model: nn.Module, state_dict: dict, own: set,
                   prefix: str | None) -> tuple[dict, str]:
    """The (remapped) sub-dict to load: under ``prefix`` if given, else the candidate prefix
    ('' or a detector/classifier part such as ``backbone.``) that matches the model best."""
    if prefix:
        if not prefix.endswith('.'):  # mmengine's Pretrained accepts 'backbone' for 'backbone.'
            prefix += '.'
        sub = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not sub:
            raise KeyError(f"prefix={prefix!r}: no checkpoint key starts with it; keys look like "
                           f'{sorted(state_dict)[:5]}.')
        return _remap(model, sub), prefix
    best = (-1, {}, '')
    for candidate in ('', ) + AUTO_PREFIXES:
        sub = {k[len(candidate):]: v for k, v in state_dict.items() if k.startswith(candidate)}
        if not sub:
            continue
        sub = _remap(model, sub)
        overlap = len(own & set(sub))
        if overlap > best[0]:
            best = (overlap, sub, candidate)
    return best[1], best[2]


def load_state_dict_report(model: nn.Module, state_dict: dict, checkpoint: str = '<state_dict>',
                           prefix: str | None = None, min_match: float = 0.5,
                           logger: str = 'current') -> LoadReport:
    """Load ``state_dict`` into ``model`` by name and shape; report; enforce ``min_match``."""
    if not 0.0 <= min_match <= 1.0:
        raise ValueError(f'min_match={min_match!r} must be in [0, 1].')
    own_state = model.state_dict()
    state_dict, used_prefix = _select_prefix(model, state_dict, set(own_state), prefix)
    from ..deploy.fuse import check_deploy_state  # folded and unfolded never mix
    check_deploy_state(model, state_dict)
    report = LoadReport(checkpoint=checkpoint, prefix=used_prefix)
    to_load = {}
    for key, value in state_dict.items():
        if key not in own_state:
            report.unexpected.append(key)
        elif own_state[key].shape != value.shape:
            report.mismatched.append((key, tuple(value.shape), tuple(own_state[key].shape)))
        else:
            to_load[key] = value
    report.matched = sorted(to_load)
    report.missing = [k for k in own_state if k not in to_load and
                      not k.endswith('num_batches_tracked')]
    params = dict(model.named_parameters())
    total = sum(p.numel() for p in params.values())
    loaded = sum(params[k].numel() for k in to_load if k in params)
    report.matched_fraction = loaded / total if total else 1.0
    text = report.format()
    if report.matched_fraction < min_match:
        raise CheckpointMismatchError(
            f'{text}\nOnly {report.matched_fraction:.1%} of the parameters of '
            f'{type(model).__name__} matched (min_match={min_match:.0%}); is this checkpoint '
            'for this architecture? Nothing was loaded.')
    with torch.no_grad():
        model.load_state_dict(to_load, strict=False)
    print_log(text, logger=logger)
    return report


def load_pretrained(model: nn.Module, checkpoint: str, prefix: str | None = None,
                    min_match: float = 0.5, map_location: str | None = None,
                    logger: str = 'current') -> LoadReport:
    """Load a checkpoint file (path, URL or ``torchvision://name``) into ``model``.

    Args:
        model: The backbone (or any module).
        checkpoint: Path, URL, or OpenMMLab model-zoo name.
        prefix: Load only the keys under this prefix (e.g. ``'backbone.'``); found automatically
            for detector/classifier checkpoints when not given.
        min_match: Fail when less than this fraction of the model's parameters is loaded.
        map_location: Accepted for mmengine's ``Pretrained`` compatibility; tensors are always
            read to CPU and copied into the model's own device.
        logger: mmengine logger name for the report.
    """
    del map_location  # load_state_dict copies onto the model's device
    state_dict = extract_state_dict(load_file(checkpoint))
    return load_state_dict_report(model, state_dict, checkpoint=checkpoint, prefix=prefix,
                                  min_match=min_match, logger=logger)
