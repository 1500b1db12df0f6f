"""Loading pretrained weights into a backbone, with a report.

The same loader serves ``init_cfg=dict(type='Pretrained', checkpoint=...)`` and
:func:`load_pretrained` called directly. It

1. reads the file safely (:mod:`mmbackbones.checkpoint.io`);
2. finds the checkpoint's layout (mmdet, mmpretrain, torchvision, timm, mmaction2, detectron2:
   :mod:`mmbackbones.checkpoint.layouts`) and prefix (``backbone.`` of detectors and classifiers
   is found automatically) and renames the keys to ours (:mod:`mmbackbones.checkpoint.core`);
3. loads what matches by name and shape and prints the layout and matched/missing/unexpected/
   mismatched keys;
4. fails with that report when less than ``min_match`` of the model's parameters were loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn as nn

from .core import (
    Report,
    check_min_match,
    commit,
    match_checkpoint,
    two_d_checkpoint_message,
)
from .deploy_state import check_deploy_state
from .errors import CheckpointMismatchError
from .io import read_state_dict

__all__ = ['CheckpointMismatchError', 'LoadReport', 'load_pretrained', 'load_state_dict_report']


@dataclass
class LoadReport(Report):
    """What a load did: the layout and prefix used, keys matched/missing/unexpected/mismatched."""
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def title(self, where: str) -> str:
        return f'Loaded {where}'

    def summary(self) -> str:
        return (f'matched: {len(self.matched)} tensors, {self.matched_fraction:.1%} of the model '
                'parameters')

    def sections(self) -> list[tuple[str, list]]:
        return [('missing in checkpoint', self.missing),
                ('unexpected in checkpoint', self.unexpected)]


def load_state_dict_report(model: nn.Module, state_dict: dict, checkpoint: str = '<state_dict>',
                           prefix: str | None = None, min_match: float = 0.5,
                           logger: str = 'current') -> LoadReport:
    """Load ``state_dict`` into ``model`` by name and shape; report; enforce ``min_match``."""
    check_min_match(min_match)
    own_state = model.state_dict()
    match = match_checkpoint(model, state_dict, prefix)
    check_deploy_state(model, match.state_dict)  # folded and unfolded never mix
    report = LoadReport(checkpoint=checkpoint, prefix=match.prefix, layout=match.layout)
    to_load = {}
    for key, value in match.state_dict.items():
        if key not in own_state:
            report.unexpected.append(key)
        elif own_state[key].shape != value.shape:
            report.mismatched.append((key, tuple(value.shape), tuple(own_state[key].shape)))
        else:
            to_load[key] = value
    report.matched = sorted(to_load)
    report.missing = [k for k in own_state if k not in to_load and
                      not k.endswith('num_batches_tracked')]
    commit(model, to_load, report, min_match, verb='matched',
           question='is this checkpoint for this architecture?', logger=logger,
           explain=two_d_checkpoint_message)
    return report


def load_pretrained(model: nn.Module, checkpoint: str, prefix: str | None = None,
                    min_match: float = 0.5, map_location: str | None = None,
                    logger: str = 'current') -> LoadReport:
    """Load a checkpoint file (path, URL or ``torchvision://name``) into ``model``.

    Args:
        model: The backbone (or any module).
        checkpoint: Path, URL, or OpenMMLab model-zoo name; ``.pth``, ``.safetensors`` or a
            detectron2/Caffe2 ``.pkl``.
        prefix: Load only the keys under this prefix (e.g. ``'backbone.'``); found automatically
            for detector/classifier checkpoints when not given.
        min_match: Fail when less than this fraction of the model's parameters is loaded.
        map_location: Accepted for mmengine's ``Pretrained`` compatibility; tensors are always
            read to CPU and copied into the model's own device.
        logger: mmengine logger name for the report.

    Raises:
        CheckpointFileError: The file is missing, a folder, empty, truncated or corrupt; the
            model is unchanged.
        CheckpointMismatchError: Less than ``min_match`` matched; the model is unchanged.
    """
    del map_location  # load_state_dict copies onto the model's device
    return load_state_dict_report(model, read_state_dict(checkpoint), checkpoint=checkpoint,
                                  prefix=prefix, min_match=min_match, logger=logger)
