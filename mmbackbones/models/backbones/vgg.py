"""VGG-11/13/16/19 (`Very Deep Convolutional Networks <https://arxiv.org/abs/1409.1556>`_).

Module names and arguments follow mmpretrain's ``VGG`` (``features.N`` of ConvModules and max
pools, ``classifier.0/3/6``), so mmpretrain configs build unchanged once their ``type`` names ours
and mmpretrain checkpoints load as they are; torchvision's and timm's layouts are remapped by
:meth:`VGG.remap_state_dict`. Where we differ from mmpretrain:

* ``out_indices`` defaults to every conv stage plus the classifier when ``num_classes > 0``
  (mmpretrain: only the last of them); ``forward`` returns exactly the requested outputs.
* The classifier reads the features through ``AdaptiveAvgPool2d((7, 7))`` as torchvision's does,
  so inputs other than 224x224 work (at 224 the pool is the identity, as in mmpretrain).
* ``norm_eval=True`` without norm layers is an error instead of a no-op.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule

from ...registry import MODELS
from ..layers import check_int, check_layer_cfg, normalize_out_indices, per_stage
from .base import BaseBackbone


class GroupedStagesMixin:
    """Stages that are runs of modules kept at their checkpoint names, not child modules.

    ``BaseBackbone._set_stages`` wants each stage to be one child; VGG's stages are slices of the
    flat ``features`` Sequential (mmpretrain/torchvision keys) and GoogLeNet's are runs of named
    children (torchvision keys). Each stage is therefore a ``ModuleList`` *view* held in a plain
    list, so it adds no state-dict keys; freezing goes through the views to the real modules.
    """

    def _set_grouped_stages(self, stem: list[nn.Module], groups: list[list[nn.Module]],
                            stage_channels: list[int], stage_strides: list[int], out_indices,
                            frozen_stages: int, norm_eval: bool) -> None:
        self._stage_groups = [nn.ModuleList(group) for group in groups]
        self._set_stages(stem, self._stage_groups, stage_channels, stage_strides, out_indices,
                         frozen_stages, norm_eval)

    def _child_name(self, module: nn.Module) -> str:
        for i, group in enumerate(self._stage_groups):
            if group is module:
                return f'stage{i}'
        raise RuntimeError('stage modules must come from _set_grouped_stages')

    def stages(self) -> list[nn.Module]:
        return list(self._stage_groups)


def check_norm_eval(norm_eval: bool, norm_cfg: dict | None) -> None:
    """``norm_eval`` acts on norm layers only; asking for it without any is a config error."""
    if norm_eval and norm_cfg is None:
        raise ValueError('norm_eval=True keeps norm layers in eval mode, but norm_cfg=None builds '
                         'none; set norm_cfg=dict(type="BN") or norm_eval=False.')


@MODELS.register_module()
class VGG(GroupedStagesMixin, BaseBackbone):
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
    example_args = dict(depth=11, norm_cfg=dict(type='BN'))
    example_input_shape = (2, 3, 32, 32)

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
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d'),
                        dict(type='Constant', val=1., layer=['_BatchNorm', 'GroupNorm']),
                        dict(type='Normal', std=0.01, layer='Linear')]
        super().__init__(init_cfg)
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f'depth must be an int, got {depth!r}; allowed: '
                            f'{sorted(self.arch_settings)}.')
        if depth not in self.arch_settings:
            raise KeyError(f'depth={depth!r} is not supported by VGG; allowed: '
                           f'{sorted(self.arch_settings)}.')
        check_int('num_stages', num_stages, 1, 5)
        check_int('num_classes', num_classes)
        check_int('in_channels', in_channels, 1)
        check_layer_cfg('conv_cfg', conv_cfg, 'conv')
        check_layer_cfg('norm_cfg', norm_cfg, 'norm')
        check_layer_cfg('act_cfg', act_cfg, 'activation')
        check_norm_eval(norm_eval, norm_cfg)
        dilations = per_stage('dilations', dilations, num_stages, (1, ) * 5)
        for d in dilations:
            check_int('dilations entry', d, 1)
        with_classifier = num_classes > 0
        num_outputs = num_stages + int(with_classifier)
        if out_indices is None:
            out_indices = tuple(range(num_outputs))
        elif not with_classifier and num_stages in (
                (out_indices, ) if isinstance(out_indices, int) else tuple(out_indices)):
            raise ValueError(f'out_indices={out_indices!r} asks for index {num_stages}, the '
                             f'classifier output, but num_classes={num_classes} builds no '
                             f'classifier; allowed: {-num_stages}..{num_stages - 1}, or set '
                             'num_classes > 0.')

        self.depth = depth
        self.num_classes = num_classes
        self.stage_blocks = self.arch_settings[depth][:num_stages]
        self.dilations = dilations
        self.with_cp = with_cp
        self.with_last_pool = with_last_pool

        layers: list[nn.Module] = []
        groups: list[list[nn.Module]] = []
        channels, strides = [], []
        in_ch, stride = in_channels, 1
        for i, num_convs in enumerate(self.stage_blocks):
            out_ch = min(64 * 2**i, 512)
            group = []
            for _ in range(num_convs):
                with warnings.catch_warnings():
                    # the conv bias before BN is part of every VGG-BN checkpoint (torchvision too)
                    warnings.filterwarnings('ignore', 'Unnecessary conv bias')
                    group.append(ConvModule(in_ch, out_ch, 3, padding=dilations[i],
                                            dilation=dilations[i], bias=True, conv_cfg=conv_cfg,
                                            norm_cfg=norm_cfg, act_cfg=act_cfg))
                in_ch = out_ch
            if with_last_pool or i < num_stages - 1:
                group.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
                stride *= 2
            layers += group
            groups.append(group)
            channels.append(out_ch)
            strides.append(stride)
        self.features = nn.Sequential(*layers)
        if with_classifier:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(in_ch * 7 * 7, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(True),
                nn.Dropout(),
                nn.Linear(4096, num_classes),
            )
            groups.append([self.classifier])
            channels.append(num_classes)
            strides.append(stride)
        self._set_grouped_stages([], groups, channels, strides,
                                 normalize_out_indices(out_indices, num_outputs), frozen_stages,
                                 norm_eval)

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
            if i == len(self.stage_blocks):  # the classifier
                x = self.classifier(torch.flatten(self.avgpool(x), 1))  # N x num_classes
            else:
                x = self._run_stage(stage, x)  # N x stage_channels[i] x H/2^(i+1) x W/2^(i+1)
            feats.append(x)
        return tuple(feats[i] for i in self.out_indices)

    def remap_state_dict(self, state_dict: dict) -> dict:
        """Rename torchvision/timm VGG keys to ours (mmpretrain's need nothing).

        * torchvision and timm number ``features`` per layer (conv, [BN,] ReLU, ..., max pool);
          ours (mmpretrain's) per ConvModule (``conv``/``bn``/``activate``) and max pool.
        * timm holds the first two fully connected layers as convs (``pre_logits.fc1``: a 7x7
          conv over the 7x7 map; ``fc2``: 1x1) and the last as ``head.fc``: reshaped to Linear.
        """
        if not any(re.match(r'features\.\d+\.(weight|bias)$', k) for k in state_dict):
            return state_dict  # mmpretrain layout
        with_bn = any(re.match(r'features\.1\.running_mean$', k) for k in state_dict)
        per_conv = 3 if with_bn else 2  # conv, [bn,] relu
        index_map: dict[int, tuple[int, str]] = {}
        theirs = ours = 0
        for num_convs in self.arch_settings[self.depth]:
            for _ in range(num_convs):
                norm_name = getattr(self.features[ours], 'norm_name', 'bn') \
                    if ours < len(self.features) else 'bn'
                index_map[theirs] = (ours, 'conv')
                if with_bn:
                    index_map[theirs + 1] = (ours, norm_name)
                theirs += per_conv
                ours += 1
            theirs += 1  # max pool
            ours += 1
        head_map = {'pre_logits.fc1.': 'classifier.0.', 'pre_logits.fc2.': 'classifier.3.',
                    'head.fc.': 'classifier.6.'}
        out = {}
        for key, value in state_dict.items():
            new = key
            m = re.match(r'features\.(\d+)\.(.+)$', key)
            if m and int(m.group(1)) in index_map:
                idx, name = index_map[int(m.group(1))]
                new = f'features.{idx}.{name}.{m.group(2)}'
            for old_prefix, new_prefix in head_map.items():
                if key.startswith(old_prefix):
                    new = new_prefix + key[len(old_prefix):]
                    if value.dim() == 4:  # conv-as-fc -> Linear, same (C, H, W) flatten order
                        value = value.reshape(value.shape[0], -1)
            out[new] = value
        return out


def _register_variants() -> None:
    """Named variants: ``vgg11`` ... ``vgg19`` and ``vgg11_bn`` ... ``vgg19_bn``."""
    for depth in VGG.arch_settings:
        for suffix, norm_cfg in (('', None), ('_bn', dict(type='BN'))):
            name = f'vgg{depth}{suffix}'

            def build(*, _depth=depth, _norm_cfg=norm_cfg, _name=name, **kwargs):
                norm = kwargs.setdefault('norm_cfg', _norm_cfg)
                if (norm is None) != (_norm_cfg is None):
                    allowed = 'a norm dict' if _norm_cfg else 'None'
                    raise ValueError(f'{_name}: norm_cfg={norm!r} contradicts the variant; '
                                     f'allowed: {allowed}. Use VGG(depth={_depth}, norm_cfg=...) '
                                     'for other combinations.')
                return VGG(depth=_depth, **kwargs)

            build.__name__ = build.__qualname__ = name  # named in TypeErrors
            build.__doc__ = f'VGG with depth={depth}' + (' and BN.' if norm_cfg else '.')
            MODELS.register_module(name=name, module=build)


_register_variants()
