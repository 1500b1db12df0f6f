"""ResNet (18-152), ResNetV1c/V1d and the small-image ResNet_CIFAR.

Module names follow mmdetection's ``ResNet`` (``conv1``/``bn1`` or a ``stem`` Sequential,
``layer1..4``), so mmdet checkpoints load as they are; mmpretrain, torchvision and timm layouts are
renamed on load by their layouts in :mod:`mmbackbones.checkpoint.layouts`.

Where mmdetection 3.x and mmpretrain 1.x defaults differ we follow:
* ``out_indices``: every stage (mmdet's ``(0, 1, 2, 3)``; mmpretrain's configs pass ``(3,)``).
* ``norm_eval=False`` (mmpretrain): BN statistics train unless asked otherwise; every mmdet
  detection config sets ``norm_eval=True`` explicitly.
* ``stem_channels=None`` means ``base_channels`` (mmdet; mmpretrain's 64 is the same for the
  default ``base_channels=64``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer

from ...checkpoint.layouts.base import rename
from ...registry import MODELS
from ..layers import DEFAULT_NORM_CFG, check_dcn, check_int, per_stage
from ..variants import apply_fixed, register_variant
from .skeleton import ResNetSkeleton, make_stages

# ---------------------------------------------------------------- other libraries' names
#: timm's ResNet-C/D deep stem ``conv1.{0,1,3,4,6}`` + ``bn1``; ours is the flat ``stem``.
TIMM_DEEP_STEM = [(r'^conv1\.(\d+)\.', r'stem.\1.'), (r'^bn1\.', 'stem.7.')]
#: mmpretrain's deep stem of three ConvModules: ``stem.{i}.conv`` -> ``stem.{3i}``,
#: ``stem.{i}.<norm>`` -> ``stem.{3i+1}`` (conv, norm, ReLU per ConvModule).
MMPRETRAIN_DEEP_STEM = [(r'^stem\.(\d+)\.(conv|bn|gn|ln|in)\.',
                         lambda m: f'stem.{3 * int(m[1]) + (m[2] != "conv")}.')]


def _from_timm(state_dict: dict, model: ResNet) -> dict:
    return rename(state_dict, TIMM_DEEP_STEM) if model.deep_stem else state_dict


def _from_mmpretrain(state_dict: dict, model: ResNet) -> dict:
    return rename(state_dict, MMPRETRAIN_DEEP_STEM)


@MODELS.register_module()
class ResNet(ResNetSkeleton):
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
        stage_with_dcn: Per-stage bools saying where ``dcn`` applies (default: every stage).
        plugins: mmdet-style plugin list: ``dict(cfg=dict(type=...), position='after_conv1' |
            'after_conv2' | 'after_conv3', stages=per-stage bools or None)``.
        with_cp: Gradient checkpointing in every block (less memory, more compute).
        zero_init_residual: Zero the last norm of every block in random init.
        drop_path_rate: Stochastic depth, rising linearly from 0 to this over all blocks.
        groups: Groups of the 3x3 conv in Bottlenecks (ResNeXt).
        base_width: Width per group at ``base_channels`` (ResNeXt).
        init_cfg: mmengine init config; ``dict(type='Pretrained', checkpoint=...)`` loads
            mmdet/mmpretrain/torchvision/timm checkpoints with a report.
        pretrained: mmdet/mmseg's deprecated spelling of ``init_cfg=dict(type='Pretrained',
            checkpoint=pretrained)`` (warns; giving both is an error).
        multi_grid: mmseg's per-block dilations of the last stage (DeepLab's multi-grid), one
            per block; they replace that stage's dilation.
        contract_dilation: The first block of a dilated stage uses half its dilation (mmseg).
        _block_args: For subclasses, not configs: a family's own block arguments, replacing
            ``groups``/``base_width`` (Res2Net passes ``scales``/``base_width``/
            ``stride1_pool``).

    Besides the output contract, the model records what mmdet's and mmpretrain's ``ResNet`` let
    users read, read-only and with their values: ``depth``, ``block``, ``stage_blocks``,
    ``expansion``, ``stem_channels`` (resolved), ``base_channels``, ``strides``, ``dilations``
    (per stage), ``style``, ``deep_stem``, ``avg_down``, ``conv_cfg``, ``norm_cfg``, ``with_cp``,
    ``dcn``, ``stage_with_dcn`` (per stage: as given, or where ``dcn`` applies), ``plugins``,
    ``res_layers``, ``feat_dim``, ``inplanes``, ``zero_init_residual``.

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

    stem_stride: ClassVar[int] = 4
    # torchvision's, mmdet's, detectron2's names: those layouts' own maps
    foreign_key_maps = {'timm': _from_timm, 'mmpretrain': _from_mmpretrain}
    #: Arguments of the first block of every stage (Res2Net: ``stage_type='stage'``).
    first_block_args: ClassVar[dict[str, Any]] = {}
    recorded_attributes = ('depth', 'block', 'stage_blocks', 'expansion', 'stem_channels',
                           'base_channels', 'strides', 'dilations', 'style', 'deep_stem',
                           'avg_down', 'conv_cfg', 'norm_cfg', 'with_cp', 'dcn', 'stage_with_dcn',
                           'plugins')

    def __init__(self,
                 depth: int,
                 *,
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
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 norm_eval: bool = False,
                 dcn: dict | None = None,
                 stage_with_dcn: Sequence[bool] | None = None,
                 plugins: Sequence[dict] | None = None,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 drop_path_rate: float = 0.0,
                 groups: int = 1,
                 base_width: int = 64,
                 init_cfg: dict | list | None = None,
                 pretrained: str | None = None,
                 multi_grid: Sequence[int] | None = None,
                 contract_dilation: bool = False,
                 _block_args: Mapping[str, Any] | None = None) -> None:
        super().__init__(self.pretrained_init_cfg(pretrained, init_cfg, warn=True))
        block, stage_blocks = self.arch(depth)
        stage_blocks = stage_blocks[:num_stages]
        self.check_common(num_stages, in_channels, base_channels, style, conv_cfg, norm_cfg,
                          plugins)
        stem_channels = base_channels if stem_channels is None else stem_channels
        check_int('stem_channels', stem_channels, 1)
        check_dcn(dcn, conv_cfg)
        if not 0.0 <= float(drop_path_rate) < 1.0:
            raise ValueError(f'drop_path_rate={drop_path_rate!r} must be in [0, 1).')
        strides, dilations = self.per_stage_ints(num_stages, strides=(strides, (1, 2, 2, 2)),
                                                 dilations=(dilations, (1, 1, 1, 1)))
        if stage_with_dcn is None:  # dcn, when given, in every stage (mmdet's default: none)
            stage_with_dcn = (dcn is not None, ) * num_stages
        stage_with_dcn = per_stage('stage_with_dcn', stage_with_dcn, num_stages, ())
        if _block_args is None:
            _block_args = dict(groups=groups, base_width=base_width)

        stem = self._make_stem_layer(in_channels, stem_channels, deep_stem, conv_cfg, norm_cfg)
        stages, channels, out_strides = make_stages(
            block, stage_blocks, stem_channels, base_channels, strides, dilations,
            stem_stride=self.stem_stride, plugins=plugins, drop_path_rate=drop_path_rate,
            first_block_args=self.first_block_args,
            block_overrides=_block_dilations(stage_blocks, dilations, multi_grid,
                                             contract_dilation),
            stage_args=[dict(dcn=dcn if with_dcn else None) for with_dcn in stage_with_dcn],
            style=style, avg_down=avg_down, with_cp=with_cp, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg, **_block_args)
        self._set_res_stages(stem, stages, channels, out_strides, out_indices, frozen_stages,
                             norm_eval, zero_init_residual)
        # what the network is, for layouts, deploy and users (mmdet's and mmpretrain's names)
        self._record(
            depth=depth, block=block, stage_blocks=stage_blocks, expansion=block.expansion,
            stem_channels=stem_channels, base_channels=base_channels, strides=strides,
            dilations=dilations, style=style, deep_stem=deep_stem, avg_down=avg_down,
            conv_cfg=conv_cfg, norm_cfg=norm_cfg, with_cp=with_cp, dcn=dcn,
            stage_with_dcn=stage_with_dcn, plugins=plugins)

    def _make_stem_layer(self, in_channels: int, stem_channels: int, deep_stem: bool,
                         conv_cfg: dict | None, norm_cfg: dict) -> list[nn.Module]:
        """Build the stem; return the modules ``frozen_stages=0`` freezes."""
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        if deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                build_conv_layer(conv_cfg, in_channels, half, 3, stride=2, padding=1,
                                 bias=False),
                build_norm_layer(norm_cfg, half)[1],
                nn.ReLU(inplace=True),
                build_conv_layer(conv_cfg, half, half, 3, stride=1, padding=1, bias=False),
                build_norm_layer(norm_cfg, half)[1],
                nn.ReLU(inplace=True),
                build_conv_layer(conv_cfg, half, stem_channels, 3, stride=1, padding=1,
                                 bias=False),
                build_norm_layer(norm_cfg, stem_channels)[1],
                nn.ReLU(inplace=True))
            return [self.stem]
        return self._make_conv_stem(in_channels, stem_channels, 7, 2, conv_cfg, norm_cfg)

    def _make_conv_stem(self, in_channels: int, stem_channels: int, kernel_size: int,
                        stride: int, conv_cfg: dict | None, norm_cfg: dict) -> list[nn.Module]:
        """One conv + norm + ReLU (``conv1``/``bn1``, mmdet's and torchvision's names)."""
        self.conv1 = build_conv_layer(conv_cfg, in_channels, stem_channels,
                                      kernel_size=kernel_size, stride=stride,
                                      padding=kernel_size // 2, bias=False)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        return [self.conv1, norm1]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.deep_stem:
            return self.maxpool(self.stem(x))
        return super().forward_stem(x)



def _block_dilations(stage_blocks: Sequence[int], dilations: Sequence[int],
                     multi_grid: Sequence[int] | None,
                     contract_dilation: bool) -> list[list[dict]] | None:
    """Per-block dilations with mmsegmentation's ``multi_grid``/``contract_dilation`` semantics
    (``mmseg.models.utils.ResLayer``); ``None`` when neither is asked for."""
    if multi_grid is None and not contract_dilation:
        return None
    if multi_grid is not None:
        multi_grid = tuple(multi_grid) if isinstance(multi_grid, Sequence) else multi_grid
        if not isinstance(multi_grid, tuple) or len(multi_grid) != stage_blocks[-1]:
            raise ValueError(f'multi_grid={multi_grid!r} needs one dilation per block of the last '
                             f'stage ({stage_blocks[-1]} blocks).')
        for v in multi_grid:
            check_int('multi_grid entry', v, 1)
    overrides = []
    for i, (num_blocks, dilation) in enumerate(zip(stage_blocks, dilations)):
        if multi_grid is not None and i == len(stage_blocks) - 1:
            per_block = list(multi_grid)
        else:
            first = dilation // 2 if contract_dilation and dilation > 1 else dilation
            per_block = [first] + [dilation] * (num_blocks - 1)
        overrides.append([dict(dilation=d) for d in per_block])
    return overrides


class _FixedResNet(ResNet):
    """A ResNet class whose ``fixed`` arguments define it (mmdet/mmpretrain configs name the
    class, so it stays a class; named variants carry ``fixed`` the same way)."""

    fixed: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs) -> None:
        super().__init__(**apply_fixed(type(self).__name__, kwargs, self.fixed, 'ResNet'))


@MODELS.register_module()
class ResNetV1c(_FixedResNet):
    """ResNet with the deep 3x3 stem (ResNet-C, https://arxiv.org/abs/1812.01187)."""

    fixed = dict(deep_stem=True, avg_down=False)


@MODELS.register_module()
class ResNetV1d(_FixedResNet):
    """ResNet with the deep stem and AvgPool shortcuts (ResNet-D, same paper as ResNetV1c)."""

    fixed = dict(deep_stem=True, avg_down=True)


@MODELS.register_module()
class ResNet_CIFAR(ResNet):
    """ResNet with a 3x3 stride-1 stem and no max pool, for 32x32 inputs (mmpretrain's name)."""

    stem_stride = 1
    example_input_shape = (2, 3, 32, 32)

    def __init__(self, **kwargs) -> None:
        if kwargs.get('deep_stem') is True:  # other values: ResNet's annotation check
            raise ValueError('deep_stem=True is not supported by ResNet_CIFAR (its stem is one '
                             '3x3 stride-1 conv).')
        super().__init__(**kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int, deep_stem: bool,
                         conv_cfg: dict | None, norm_cfg: dict) -> list[nn.Module]:
        self.maxpool = nn.Identity()
        return self._make_conv_stem(in_channels, stem_channels, 3, 1, conv_cfg, norm_cfg)


# Named variants: resnet18 ... resnet152, resnet50_v1c ... resnet152_v1d.
for _depth in ResNet.arch_settings:
    register_variant(f'resnet{_depth}', ResNet, fixed=dict(depth=_depth))
    if _depth >= 50:
        for _cls in (ResNetV1c, ResNetV1d):
            register_variant(f'resnet{_depth}_{_cls.__name__[-3:].lower()}', _cls,
                             fixed=dict(depth=_depth, **_cls.fixed))
