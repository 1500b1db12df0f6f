"""ResNet (18-152), ResNetV1c/V1d and the small-image ResNet_CIFAR.

Module names follow mmdetection's ``ResNet`` (``conv1``/``bn1`` or a ``stem`` Sequential,
``layer1..4``), so mmdet checkpoints load as they are; mmpretrain, torchvision and timm layouts are
remapped by :meth:`ResNet.remap_state_dict` when loaded through ``init_cfg``.

Where mmdetection 3.x and mmpretrain 1.x defaults differ we follow:
* ``out_indices``: every stage (mmdet's ``(0, 1, 2, 3)``; mmpretrain's configs pass ``(3,)``).
* ``norm_eval=False`` (mmpretrain): BN statistics train unless asked otherwise; every mmdet
  detection config sets ``norm_eval=True`` explicitly.
* ``stem_channels=None`` means ``base_channels`` (mmdet; mmpretrain's 64 is the same for the
  default ``base_channels=64``).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import constant_init

from ...registry import MODELS
from ..layers import (
    BasicBlock,
    Bottleneck,
    ResLayer,
    check_choice,
    check_dcn,
    check_int,
    check_layer_cfg,
    check_plugins,
    per_stage,
)
from .base import BaseBackbone


@MODELS.register_module()
class ResNet(BaseBackbone):
    """ResNet backbone (`Deep Residual Learning <https://arxiv.org/abs/1512.03385>`_).

    Args:
        depth: 18, 34 (BasicBlock), 50, 101 or 152 (Bottleneck).
        in_channels: Input image channels.
        stem_channels: Stem output channels; ``None`` means ``base_channels``.
        base_channels: Width of the first stage; stage ``i`` has ``base_channels * 2**i``.
        num_stages: 1-4 stages.
        strides: Stride of each stage's first block (default ``(1, 2, 2, 2)[:num_stages]``).
        dilations: Dilation of each stage (default all 1).
        out_indices: Stages whose outputs ``forward`` returns, in this order; negative indices
            count from the last stage. Default: every stage.
        style: ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (stride on the first 1x1).
        deep_stem: Three 3x3 convs instead of the 7x7 stem (ResNet-C).
        avg_down: AvgPool + stride-1 conv in strided shortcuts (ResNet-D).
        frozen_stages: -1 freezes nothing, 0 the stem, k the stem and the first k stages.
        conv_cfg: Conv layer config (mmcv ``build_conv_layer``); ``None`` is ``Conv2d``.
        norm_cfg: Norm layer config (``BN``, ``SyncBN``, ``GN``, ...).
        norm_eval: Keep BN layers in eval mode while training (frozen statistics).
        dcn: Deformable conv config for the 3x3 convs, e.g. ``dict(type='DCN',
            deform_groups=1, fallback_on_stride=False)``; needs mmcv's compiled ops.
        stage_with_dcn: Per-stage bools saying where ``dcn`` applies (default all True).
        plugins: mmdet-style plugin list: ``dict(cfg=dict(type=...), position='after_conv1' |
            'after_conv2' | 'after_conv3', stages=per-stage bools or None)``.
        with_cp: Gradient checkpointing in every block (less memory, more compute).
        zero_init_residual: Zero the last norm of every block in random init.
        drop_path_rate: Stochastic depth, rising linearly from 0 to this over all blocks.
        groups: Groups of the 3x3 conv in Bottlenecks (ResNeXt).
        base_width: Width per group at ``base_channels`` (ResNeXt).
        init_cfg: mmengine init config; ``dict(type='Pretrained', checkpoint=...)`` loads
            mmdet/mmpretrain/torchvision/timm checkpoints with a report.

    Example:
        >>> import torch
        >>> from mmbackbones.models import ResNet
        >>> model = ResNet(depth=18).eval()
        >>> for out in model(torch.rand(1, 3, 64, 64)):
        ...     print(tuple(out.shape))
        (1, 64, 16, 16)
        (1, 128, 8, 8)
        (1, 256, 4, 4)
        (1, 512, 2, 2)
        >>> model.out_channels, model.out_strides
        ((64, 128, 256, 512), (4, 8, 16, 32))
    """

    arch_settings: dict[int, tuple[type, tuple[int, ...]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }
    stem_stride: int = 4
    example_args = dict(depth=18)

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 stem_channels: int | None = None,
                 base_channels: int = 64,
                 num_stages: int = 4,
                 strides: Sequence[int] | None = None,
                 dilations: Sequence[int] | None = None,
                 out_indices: int | Sequence[int] | None = None,
                 style: str = 'pytorch',
                 deep_stem: bool = False,
                 avg_down: bool = False,
                 frozen_stages: int = -1,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 dcn: dict | None = None,
                 stage_with_dcn: Sequence[bool] | None = None,
                 plugins: Sequence[dict] | None = None,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 drop_path_rate: float = 0.0,
                 groups: int = 1,
                 base_width: int = 64,
                 init_cfg: dict | list | None = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(type='Kaiming', layer='Conv2d'),
                        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
        super().__init__(init_cfg)
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f'depth must be an int, got {depth!r}; allowed: '
                            f'{sorted(self.arch_settings)}.')
        if depth not in self.arch_settings:
            raise KeyError(f'depth={depth!r} is not supported by {type(self).__name__}; '
                           f'allowed: {sorted(self.arch_settings)}.')
        check_int('num_stages', num_stages, 1, 4)
        check_int('in_channels', in_channels, 1)
        check_int('base_channels', base_channels, 1)
        stem_channels = base_channels if stem_channels is None else stem_channels
        check_int('stem_channels', stem_channels, 1)
        check_choice('style', style, ('pytorch', 'caffe'))
        check_layer_cfg('conv_cfg', conv_cfg, 'conv')
        check_layer_cfg('norm_cfg', norm_cfg, 'norm', allow_none=False)
        check_dcn(dcn, conv_cfg)
        check_plugins(plugins, num_stages)
        if not 0.0 <= float(drop_path_rate) < 1.0:
            raise ValueError(f'drop_path_rate={drop_path_rate!r} must be in [0, 1).')
        strides = per_stage('strides', strides, num_stages, (1, 2, 2, 2))
        dilations = per_stage('dilations', dilations, num_stages, (1, 1, 1, 1))
        stage_with_dcn = per_stage('stage_with_dcn', stage_with_dcn, num_stages, (True, ) * 4)
        for arg, values in (('strides', strides), ('dilations', dilations)):
            for v in values:
                check_int(f'{arg} entry', v, 1)
        if out_indices is None:
            out_indices = tuple(range(num_stages))

        self.depth = depth
        self.in_channels = in_channels
        self.stem_channels = stem_channels
        self.base_channels = base_channels
        self.strides = strides
        self.dilations = dilations
        self.style = style
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.with_cp = with_cp
        self.dcn = dcn
        self.stage_with_dcn = stage_with_dcn
        self.plugins = plugins
        self.zero_init_residual = zero_init_residual
        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]

        stem = self._make_stem_layer(in_channels, stem_channels)
        dpr = torch.linspace(0, float(drop_path_rate), sum(self.stage_blocks)).tolist()
        inplanes, stride = stem_channels, self.stem_stride
        stages, channels, out_strides = [], [], []
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = self.make_res_layer(
                block=self.block,
                inplanes=inplanes,
                planes=planes,
                num_blocks=num_blocks,
                stride=strides[i],
                dilation=dilations[i],
                style=style,
                avg_down=avg_down,
                with_cp=with_cp,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                dcn=dcn if stage_with_dcn[i] else None,
                plugins=self.make_stage_plugins(plugins, i),
                drop_path_rates=dpr[:num_blocks],
                **self._block_kwargs(groups, base_width, base_channels))
            dpr = dpr[num_blocks:]
            self.add_module(f'layer{i + 1}', layer)
            inplanes = layer.out_channels
            stride *= strides[i]
            stages.append(layer)
            channels.append(layer.out_channels)
            out_strides.append(stride)
        self.res_layers = [f'layer{i + 1}' for i in range(num_stages)]
        self.feat_dim = channels[-1]
        self._set_stages(stem, stages, channels, out_strides, out_indices, frozen_stages,
                         norm_eval)

    def _block_kwargs(self, groups: int, base_width: int, base_channels: int) -> dict:
        if self.block is BasicBlock:
            if groups != 1 or base_width != 64:
                raise ValueError(f'groups={groups}/base_width={base_width} need a Bottleneck '
                                 f'depth (50/101/152); depth={self.depth} uses BasicBlock.')
            return {}
        check_int('groups', groups, 1)
        check_int('base_width', base_width, 1)
        return dict(groups=groups, base_width=base_width, base_channels=base_channels)

    def make_res_layer(self, **kwargs) -> ResLayer:
        """Build one stage; families with another block override only the block."""
        return ResLayer(**kwargs)

    def make_stage_plugins(self, plugins: Sequence[dict] | None, stage_idx: int) -> list[dict]:
        """The plugin configs (``cfg`` + ``position``) of the ``stage_idx``-th stage."""
        selected = []
        for plugin in plugins or ():
            stages = plugin.get('stages')
            if stages is None or stages[stage_idx]:
                selected.append({k: v for k, v in plugin.items() if k != 'stages'})
        return selected

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> list[nn.Module]:
        """Build the stem; return the modules ``frozen_stages=0`` freezes."""
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                build_conv_layer(self.conv_cfg, in_channels, half, 3, stride=2, padding=1,
                                 bias=False),
                build_norm_layer(self.norm_cfg, half)[1],
                nn.ReLU(inplace=True),
                build_conv_layer(self.conv_cfg, half, half, 3, stride=1, padding=1, bias=False),
                build_norm_layer(self.norm_cfg, half)[1],
                nn.ReLU(inplace=True),
                build_conv_layer(self.conv_cfg, half, stem_channels, 3, stride=1, padding=1,
                                 bias=False),
                build_norm_layer(self.norm_cfg, stem_channels)[1],
                nn.ReLU(inplace=True))
            return [self.stem]
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, kernel_size=7,
                                      stride=2, padding=3, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        return [self.conv1, norm1]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        return self.maxpool(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.forward_stem(x)  # N x stem_channels x H/4 x W/4
        feats = []
        for layer in self.stages():
            x = layer(x)
            feats.append(x)
        return tuple(feats[i] for i in self.out_indices)

    def _after_init_weights(self) -> None:
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    constant_init(m.last_norm, 0)

    def remap_state_dict(self, state_dict: dict) -> dict:
        """Rename mmpretrain/timm ResNet keys to ours (mmdet and torchvision need nothing).

        * mmpretrain's deep stem is three ConvModules: ``stem.{i}.conv`` -> ``stem.{3i}``,
          ``stem.{i}.bn`` -> ``stem.{3i+1}``.
        * timm's deep stem is ``conv1.{0,1,3,4,6}`` plus ``bn1``: -> ``stem.{0,1,3,4,6}`` and
          ``stem.7``.
        * timm's avg-down shortcut keeps an Identity at ``downsample.0`` where the stage does not
          stride; ours then has only ``downsample.0/1``: shift those indices down by one.
        """
        own = set(self.state_dict())
        # shortcuts that hold three entries in the checkpoint but two in this model
        shifted = {m.group(1) for m in (re.match(r'(layer\d+\.\d+\.downsample\.)2\.', k)
                                        for k in state_dict) if m}
        shifted = {p for p in shifted if f'{p}2.weight' not in own}
        out = {}
        timm_deep_stem = self.deep_stem and 'conv1.0.weight' in state_dict
        for key, value in state_dict.items():
            new = key
            m = re.match(r'stem\.(\d+)\.(conv|bn|gn|ln|in)\.(.+)$', key)
            if m:
                offset = 0 if m.group(2) == 'conv' else 1
                new = f'stem.{3 * int(m.group(1)) + offset}.{m.group(3)}'
            elif timm_deep_stem and re.match(r'conv1\.\d+\.', key):
                new = 'stem.' + key[len('conv1.'):]
            elif timm_deep_stem and key.startswith('bn1.'):
                new = 'stem.7.' + key[len('bn1.'):]
            m = re.match(r'(layer\d+\.\d+\.downsample\.)(\d+)\.(.+)$', new)
            if m and m.group(1) in shifted:
                new = f'{m.group(1)}{int(m.group(2)) - 1}.{m.group(3)}'
            out[new] = value
        return out

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """The stem's (conv, norm) pair for conv-BN folding; the deep stem is a Sequential, whose
        neighbours the folding engine pairs itself."""
        return [] if self.deep_stem else [('conv1', self.norm1_name)]


@MODELS.register_module()
class ResNetV1c(ResNet):
    """ResNet with the deep 3x3 stem (ResNet-C, https://arxiv.org/abs/1812.01187)."""

    example_args = dict(depth=50)

    def __init__(self, **kwargs) -> None:
        _fixed(type(self).__name__, kwargs, deep_stem=True, avg_down=False)
        super().__init__(**kwargs)


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNet with the deep stem and AvgPool shortcuts (ResNet-D, same paper as ResNetV1c)."""

    example_args = dict(depth=50)

    def __init__(self, **kwargs) -> None:
        _fixed(type(self).__name__, kwargs, deep_stem=True, avg_down=True)
        super().__init__(**kwargs)


@MODELS.register_module()
class ResNet_CIFAR(ResNet):
    """ResNet with a 3x3 stride-1 stem and no max pool, for 32x32 inputs (mmpretrain's name)."""

    stem_stride = 1
    example_input_shape = (2, 3, 32, 32)

    def __init__(self, **kwargs) -> None:
        if kwargs.get('deep_stem'):
            raise ValueError('deep_stem=True is not supported by ResNet_CIFAR (its stem is one '
                             '3x3 stride-1 conv).')
        super().__init__(**kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> list[nn.Module]:
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, kernel_size=3,
                                      stride=1, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        return [self.conv1, norm1]


def _fixed(cls_name: str, kwargs: dict, **fixed) -> None:
    """Set a variant's fixed arguments; a conflicting user value is an error, not ignored."""
    for key, value in fixed.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(f'{cls_name} always uses {key}={value}; got {key}={kwargs[key]!r}. '
                             f'Use ResNet({key}=...) for other combinations.')
        kwargs[key] = value


def _register_variants() -> None:
    """Named variants: ``resnet18`` ... ``resnet152``, ``resnet50_v1c``, ``resnet50_v1d``, ..."""
    for depth in ResNet.arch_settings:
        for suffix, cls in (('', ResNet), ('_v1c', ResNetV1c), ('_v1d', ResNetV1d)):
            if cls is not ResNet and depth < 50:
                continue
            name = f'resnet{depth}{suffix}'

            def build(_cls=cls, _depth=depth, **kwargs):
                return _cls(depth=_depth, **kwargs)

            build.__name__ = name
            build.__doc__ = f'{cls.__name__} with depth={depth}.'
            MODELS.register_module(name=name, module=build)


_register_variants()
