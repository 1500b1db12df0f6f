"""VGG-11/13/16/19 (`Very Deep Convolutional Networks <https://arxiv.org/abs/1409.1556>`_).

Module names and arguments follow mmpretrain's ``VGG`` (``features.N`` of ConvModules and max
pools, ``classifier.0/3/6``), so mmpretrain configs build unchanged once their ``type`` names ours
and mmpretrain checkpoints load as they are; torchvision's and timm's layouts are remapped by
:mod:`mmbackbones.checkpoint.layouts` on load. Where we differ from mmpretrain:

* ``out_indices`` defaults to every conv stage plus the classifier when ``num_classes > 0``
  (mmpretrain: only the last of them); ``forward`` returns exactly the requested outputs.
* The classifier reads the features through ``AdaptiveAvgPool2d((7, 7))`` as torchvision's does,
  so inputs other than 224x224 work (at 224 the pool is the identity, as in mmpretrain).
* ``norm_eval=True`` without norm layers is an error instead of a no-op.

The model records what mmpretrain's ``VGG`` lets users read, read-only and with its values:
``stage_blocks``, ``num_classes``, ``module_name`` (``'features'``), ``range_sub_modules`` (each
stage's ``[start, end)`` in ``features``) and ``in_channels``, which in mmpretrain is the channels
of the last conv stage (what its classifier reads), not the input channels this constructor's
``in_channels`` argument gives.
"""
from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule

from ...checkpoint.layouts.base import rename
from ...registry import MODELS
from ..layers import check_int, check_layer_cfg, per_stage
from ..variants import Not, register_variant
from .base import (
    BaseBackbone,
    check_norm_eval,
    default_init_cfg,
    outputs_with_classifier,
)


@MODELS.register_module()
class VGG(BaseBackbone):
    """VGG backbone: five stages of 3x3 convs, each closed by a 2x2 max pool.

    Stage ``i`` (0-4) has 64, 128, 256, 512, 512 channels and stride ``2**(i+1)``. With
    ``num_classes > 0`` the three fully connected layers follow as one more output index
    (``num_stages``, i.e. 5 by default, as in mmpretrain): an ``(N, num_classes)`` tensor, published
    with ``channels=num_classes`` and the stride of the feature map it reads (32 by default). VGG
    has no stem, so ``frozen_stages=0`` freezes nothing and ``k`` freezes the first ``k`` stages
    (mmpretrain's meaning); ``k = num_stages + 1`` also freezes the classifier.

    Args:
        depth: 11, 13, 16 or 19 (configurations A, B, D, E of the paper).
        num_classes: Classes of the fully connected classifier; ``<= 0`` builds none.
        num_stages: 1-5 conv stages.
        dilations: Dilation of each stage's convs (default all 1).
        out_indices: Outputs ``forward`` returns, in this order: conv stages ``0..num_stages-1``
            and ``num_stages`` for the classifier; negative indices count from the last output.
            Default: every output.
        frozen_stages: -1 or 0 freeze nothing; ``k`` freezes the first ``k`` stages.
        conv_cfg: Conv layer config (mmcv ``build_conv_layer``); ``None`` is ``Conv2d``.
        norm_cfg: Norm layer after each conv (``dict(type='BN')`` for the ``_bn`` variants);
            ``None`` (the paper) builds none.
        act_cfg: Activation after each conv.
        norm_eval: Keep BN layers in eval mode while training; needs ``norm_cfg``.
        ceil_mode: ``ceil_mode`` of the max pools (odd input sizes keep their last row/column).
        with_last_pool: Keep the max pool closing the last stage (its stride then drops by 2).
        with_cp: Gradient checkpointing per stage (less memory, more compute).
        in_channels: Input image channels.
        init_cfg: mmengine init config; ``dict(type='Pretrained', checkpoint=...)`` loads
            mmpretrain/torchvision/timm checkpoints with a report.

    Example:
        >>> import torch
        >>> from mmbackbones.models import VGG
        >>> model = VGG(depth=11).eval()
        >>> for out in model(torch.rand(1, 3, 64, 64)):
        ...     print(tuple(out.shape))
        (1, 64, 32, 32)
        (1, 128, 16, 16)
        (1, 256, 8, 8)
        (1, 512, 4, 4)
        (1, 512, 2, 2)
        >>> model.out_channels, model.out_strides
        ((64, 128, 256, 512, 512), (2, 4, 8, 16, 32))
    """

    #: Convs per stage; e.g. VGG-11 = (1 + 1 + 2 + 2 + 2) convs + 3 fully connected layers.
    arch_settings: dict[int, tuple[int, ...]] = {
        11: (1, 1, 2, 2, 2),
        13: (2, 2, 2, 2, 2),
        16: (2, 2, 3, 3, 3),
        19: (2, 2, 4, 4, 4),
    }
    example_input_shape = (2, 3, 32, 32)
    recorded_attributes = ('depth', 'stage_blocks', 'num_classes', 'with_cp', 'module_name',
                           'range_sub_modules', 'in_channels')

    def __init__(self,
                 depth: int,
                 *,
                 num_classes: int = -1,
                 num_stages: int = 5,
                 dilations: Sequence[int] | None = None,
                 out_indices: int | Sequence[int] | None = None,
                 frozen_stages: int = -1,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'),
                 norm_eval: bool = False,
                 ceil_mode: bool = False,
                 with_last_pool: bool = True,
                 with_cp: bool = False,
                 in_channels: int = 3,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(default_init_cfg(linear_std=0.01) if init_cfg is None else init_cfg)
        check_int('num_stages', num_stages, 1, 5)
        stage_blocks = self.arch(depth)[:num_stages]
        check_int('num_classes', num_classes)
        check_int('in_channels', in_channels, 1)
        check_layer_cfg('conv_cfg', conv_cfg, 'conv')
        check_layer_cfg('norm_cfg', norm_cfg, 'norm')
        check_layer_cfg('act_cfg', act_cfg, 'activation')
        check_norm_eval(norm_eval, norm_cfg)
        dilations = per_stage('dilations', dilations, num_stages, (1, ) * 5)
        for d in dilations:
            check_int('dilations entry', d, 1)
        out_indices = outputs_with_classifier(out_indices, num_stages, num_classes)

        self.features, groups, channels, strides = make_features(
            stage_blocks, dilations, in_channels, ceil_mode, with_last_pool,
            dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
        # each stage is a view of its run of ``features`` (mmpretrain/torchvision keys)
        stages = {f'stage{i + 1}': nn.ModuleList(group) for i, group in enumerate(groups)}
        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(channels[-1] * 7 * 7, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, num_classes),
            )
            stages['classifier'] = nn.ModuleList([self.classifier])
            channels.append(num_classes)
            strides.append(strides[-1])
        self._set_stages([], stages, channels, strides, out_indices, frozen_stages, norm_eval)
        ends = list(itertools.accumulate(len(group) for group in groups))
        self._record(depth=depth, stage_blocks=stage_blocks, num_classes=num_classes,
                     with_cp=with_cp, module_name='features',
                     in_channels=channels[num_stages - 1],
                     range_sub_modules=[[end - len(group), end]
                                        for group, end in zip(groups, ends)])

    def _run_stage(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:

        def run(x: torch.Tensor) -> torch.Tensor:
            for layer in stage:
                x = layer(x)
            return x

        if self.with_cp and torch.is_grad_enabled():
            return cp.checkpoint(run, x, use_reentrant=False)
        return run(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = []
        last = max(self.out_indices)  # later stages feed no output
        for i, stage in enumerate(self.stages()[:last + 1]):
            if self.stage_names[i] == 'classifier':
                x = self.classifier(torch.flatten(self.avgpool(x), 1))  # N x num_classes
            else:
                x = self._run_stage(stage, x)  # N x stage_channels[i] x H/2^(i+1) x W/2^(i+1)
            feats.append(x)
        return tuple(feats[i] for i in self.out_indices)


def make_features(stage_blocks: Sequence[int], dilations: Sequence[int], in_channels: int,
                  ceil_mode: bool, with_last_pool: bool, layer_cfg: dict
                  ) -> tuple[nn.Sequential, list[list[nn.Module]], list[int], list[int]]:
    """``features``: the conv stages, each closed by a max pool (the last one only with
    ``with_last_pool``); the Sequential, each stage's modules, channels and strides."""
    layers: list[nn.Module] = []
    groups: list[list[nn.Module]] = []
    channels, strides = [], []
    in_ch, stride = in_channels, 1
    for i, num_convs in enumerate(stage_blocks):
        out_ch = min(64 * 2**i, 512)
        group = []
        for _ in range(num_convs):
            with warnings.catch_warnings():
                # the conv bias before BN is part of every VGG-BN checkpoint (torchvision too)
                warnings.filterwarnings('ignore', 'Unnecessary conv bias')
                group.append(ConvModule(in_ch, out_ch, 3, padding=dilations[i],
                                        dilation=dilations[i], bias=True, **layer_cfg))
            in_ch = out_ch
        if with_last_pool or i < len(stage_blocks) - 1:
            group.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
            stride *= 2
        layers += group
        groups.append(group)
        channels.append(out_ch)
        strides.append(stride)
    return nn.Sequential(*layers), groups, channels, strides


# ---------------------------------------------------------------- other libraries' names
def torchvision_features(state_dict: dict, model: VGG) -> dict:
    """``features.N`` numbered per layer (conv, [BN,] ReLU, ..., max pool), as torchvision and
    timm do, to ours (mmpretrain's): per ConvModule (``conv``/``bn``/``activate``) and max pool.
    Other keys are returned unchanged."""
    with_bn = 'features.1.running_mean' in state_dict
    per_conv = 3 if with_bn else 2  # conv, [bn,] relu
    index_map: dict[int, tuple[int, str]] = {}
    theirs = ours = 0
    for num_convs in model.arch_settings[model.depth]:
        for _ in range(num_convs):
            norm_name = getattr(model.features[ours], 'norm_name', 'bn') \
                if ours < len(model.features) else 'bn'
            index_map[theirs] = (ours, 'conv')
            if with_bn:
                index_map[theirs + 1] = (ours, norm_name)
            theirs += per_conv
            ours += 1
        theirs += 1  # max pool
        ours += 1

    def move(m: re.Match) -> str:
        if int(m[1]) not in index_map:
            return m[0]
        idx, name = index_map[int(m[1])]
        return f'features.{idx}.{name}.'

    return rename(state_dict, [(r'^features\.(\d+)\.', move)])


#: timm's VGG head: ``pre_logits.fc1`` (a 7x7 conv over the 7x7 map), ``fc2`` (1x1) and
#: ``head.fc``; ours are the Linear ``classifier.0/3/6``.
TIMM_HEAD = [(r'^pre_logits\.fc1\.', 'classifier.0.'), (r'^pre_logits\.fc2\.', 'classifier.3.'),
             (r'^head\.fc\.', 'classifier.6.')]


def timm_vgg(state_dict: dict, model: VGG) -> dict:
    """timm's ``features`` (numbered as torchvision's) and its conv-as-fc head."""
    out = rename(torchvision_features(state_dict, model), TIMM_HEAD)
    # conv-as-fc -> Linear: the same (C, H, W) flatten order
    return {k: v.reshape(v.shape[0], -1) if k.startswith('classifier.') and v.dim() == 4 else v
            for k, v in out.items()}


VGG.foreign_key_maps = {'torchvision': torchvision_features, 'timm': timm_vgg}


# Named variants: vgg11 ... vgg19 (the paper, no norm layers) and vgg11_bn ... vgg19_bn.
for _depth in VGG.arch_settings:
    register_variant(f'vgg{_depth}', VGG, fixed=dict(depth=_depth, norm_cfg=None),
                     doc=f'VGG-{_depth} (the paper: no norm layers).')
    register_variant(f'vgg{_depth}_bn', VGG, fixed=dict(depth=_depth, norm_cfg=Not(None)),
                     defaults=dict(norm_cfg=dict(type='BN')), doc=f'VGG-{_depth} with BN.')
