"""The stem + stages skeleton every ResNet-like family is built on (2D and 3D).

detectron2 builds a ResNet as ``ResNet(stem, stages)`` from one ``make_stage`` helper; this is the
same idea in OpenMMLab clothing (registered classes configured by keyword arguments, stages named
``layer1..4``). What every family shares is written here once: depth validation, the default
``init_cfg``, plugin selection per stage, the stage loop (:func:`make_stages`),
zero-init of each block's last norm and the forward pass. A family states

* its blocks: ``arch_settings`` (depth -> block class, blocks per stage),
* its stage settings: the arguments it hands to :func:`make_stages` (strides, dilations, block
  arguments, per-block overrides such as Res2Net's first-of-stage block or the 3D inflation),
* its stem: the modules it builds before the stages and :meth:`forward_stem`.

The constructor reads top to bottom: validate, build the stem from its arguments, build the
stages (:func:`make_stages` returns them with their channels and strides), register them
(:meth:`ResNetSkeleton._set_res_stages`).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn as nn
from mmengine.model import constant_init

from ..layers import (
    BasicBlock,
    Bottleneck,
    ResLayer,
    check_int,
    check_layer_cfg,
    check_plugins,
    per_stage,
)
from ..layers.res_blocks import _ResBlock
from .base import BaseBackbone, default_init_cfg

#: depth -> (block, blocks per stage) of the ResNet paper (Table 1).
RESNET_ARCH: dict[int, tuple[type, tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNetSkeleton(BaseBackbone):
    """Base class of the ResNet-like families: a stem, then stages of residual blocks.

    Subclasses call ``super().__init__(init_cfg)``, validate their arguments
    (``self.arch(depth)`` for the depth), build their stem, call :func:`make_stages`, then
    :meth:`_set_res_stages` and finally :meth:`_record` their settings. Builders take what they
    need as arguments; nothing reads back a constructor value from ``self``.

    The recorded ``res_layers``, ``feat_dim`` and ``inplanes`` are mmdet's/mmaction2's: the stage
    names and the channels of the last stage (``inplanes`` is where mmdet's stage loop leaves its
    running input width).

    Args:
        init_cfg: mmengine init config; ``None`` gives Kaiming for ``conv_type`` layers and 1 for
            norm weights.
    """

    arch_settings: ClassVar[dict[int, tuple[type, tuple[int, ...]]]] = RESNET_ARCH
    #: The conv layer type the default Kaiming init targets.
    conv_type: ClassVar[str] = 'Conv2d'

    recorded_attributes = ('res_layers', 'feat_dim', 'inplanes', 'zero_init_residual')

    def __init__(self, init_cfg: dict | list | None = None) -> None:
        super().__init__(default_init_cfg(self.conv_type) if init_cfg is None else init_cfg)

    @staticmethod
    def pretrained_init_cfg(pretrained: str | None, init_cfg: dict | list | None,
                            warn: bool = False) -> dict | list | None:
        """mmdet/mmseg/mmaction2's ``pretrained=`` as an ``init_cfg``; both at once is an error.

        With ``warn`` (the 2D families, where mmdet/mmseg deprecated it) a ``DeprecationWarning``
        says how to write it today.
        """
        if pretrained is None:
            return init_cfg
        if init_cfg is not None:
            raise ValueError(f'pretrained={pretrained!r} and init_cfg={init_cfg!r} both say how '
                             'to initialise; give one of them.')
        if not isinstance(pretrained, str):
            raise TypeError(f'pretrained must be a checkpoint path/URL or None, got '
                            f'{pretrained!r}.')
        if warn:
            warnings.warn(f"pretrained={pretrained!r} is deprecated (as in mmdet/mmseg); use "
                          f"init_cfg=dict(type='Pretrained', checkpoint={pretrained!r}).",
                          DeprecationWarning, stacklevel=3)
        return dict(type='Pretrained', checkpoint=pretrained)

    @staticmethod
    def check_common(num_stages: int, in_channels: int, base_channels: int, style: str,
                     conv_cfg: dict | None, norm_cfg: dict, plugins: Sequence[dict] | None,
                     conv_cfg_required: bool = False) -> None:
        """Validate the arguments every ResNet-like family takes."""
        check_int('num_stages', num_stages, 1, 4)
        check_int('in_channels', in_channels, 1)
        check_int('base_channels', base_channels, 1)
        check_layer_cfg('conv_cfg', conv_cfg, 'conv', allow_none=not conv_cfg_required)
        check_layer_cfg('norm_cfg', norm_cfg, 'norm', allow_none=False)
        check_plugins(plugins, num_stages)

    @staticmethod
    def per_stage_ints(num_stages: int, **settings: tuple[Sequence[int] | None, Sequence[int]]
                       ) -> list[tuple[int, ...]]:
        """Each ``name=(value, default)`` as one positive int per stage (``None``: default)."""
        result = []
        for arg, (value, default) in settings.items():
            value = per_stage(arg, value, num_stages, default)
            for v in value:
                check_int(f'{arg} entry', v, 1)
            result.append(value)
        return result

    def _set_res_stages(self, stem: list[nn.Module], stages: dict[str, ResLayer],
                        channels: list[int], strides: list[int], out_indices,
                        frozen_stages: int, norm_eval: bool, zero_init_residual: bool) -> None:
        """Register what :func:`make_stages` built (``layer1..n``) and record the contract.

        ``zero_init_residual``: zero the last norm of every block in random init.
        """
        for name, stage in stages.items():
            self.add_module(name, stage)
        self._set_stages(stem, stages, channels, strides, out_indices, frozen_stages, norm_eval)
        self._record(res_layers=list(stages), feat_dim=channels[-1], inplanes=channels[-1],
                     zero_init_residual=zero_init_residual)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """The stem's (conv, norm) pair for conv-BN folding (:mod:`mmbackbones.models.fuse`); a
        deep stem is a Sequential, whose neighbours the folding engine pairs itself."""
        return [] if getattr(self, 'deep_stem', False) else [('conv1', self.norm1_name)]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.norm1(self.conv1(x))))

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Run stage ``index``; a family may add what follows a stage (ResNet3d's ``pool2``)."""
        return self.stages()[index](x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.forward_stem(x)  # N x stem_channels x H/4 x W/4 (stem_stride)
        feats = []
        for i in range(self.num_stages):
            x = self.forward_stage(i, x)  # N x stage_channels[i] x H/stage_strides[i] x ...
            feats.append(x)
        return tuple(feats[i] for i in self.out_indices)

    def _after_init_weights(self) -> None:
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, _ResBlock):
                    constant_init(m.last_norm, 0)


def make_stages(block: type,
                stage_blocks: Sequence[int],
                inplanes: int,
                base_channels: int,
                strides: Sequence[int],
                dilations: Sequence[int],
                *,
                stem_stride: int = 1,
                plugins: Sequence[dict] | None = None,
                drop_path_rate: float = 0.0,
                first_block_args: dict | None = None,
                stage_args: Sequence[dict] | None = None,
                block_overrides: Sequence[Sequence[dict]] | None = None,
                conv_cfg: dict | None,
                norm_cfg: dict,
                **common) -> tuple[dict[str, ResLayer], list[int], list[int]]:
    """Build ``layer1..n``: stage ``i`` has ``base_channels * 2**i`` planes.

    Args:
        block: The block class of every stage.
        stage_blocks: Blocks per stage.
        inplanes: Channels the stem gives the first stage.
        base_channels: Planes of the first stage; every block gets it too (ResNeXt and
            Res2Net widths are relative to it).
        strides: Stride of each stage's first block.
        dilations: Dilation of each stage.
        stem_stride: Stride of the stem output relative to the input.
        plugins: mmdet-style plugin list; each stage gets those its ``stages`` select.
        drop_path_rate: Stochastic depth, rising linearly from 0 to this over all blocks.
        first_block_args: Arguments of the first block of every stage (Res2Net:
            ``stage_type='stage'``).
        stage_args: One dict per stage of further :class:`ResLayer` arguments (``dcn``,
            ``shortcut_stride``).
        block_overrides: Per stage, one dict per block merged over the block arguments after
            ``first_block_args``; a ``plugins`` entry adds to the stage's plugins.
        conv_cfg: Conv layer config of every conv of the stages.
        norm_cfg: Norm layer config of every norm of the stages.
        **common: Other :class:`ResLayer`/block arguments of every stage (``style``,
            ``avg_down``, ``with_cp``, ``groups``, ...).

    Returns:
        The stages by name (``layer1..n``), their output channels and their strides relative to
        the input; the caller registers them (:meth:`ResNetSkeleton._set_res_stages`).
    """
    dpr = torch.linspace(0, float(drop_path_rate), sum(stage_blocks)).tolist()
    stages: dict[str, ResLayer] = {}
    channels, out_strides = [], []
    for i, num_blocks in enumerate(stage_blocks):
        stage_plugins = select_plugins(plugins, i)
        overrides = []
        for j in range(num_blocks):
            override = dict(first_block_args or {}) if j == 0 else {}
            override.update(block_overrides[i][j] if block_overrides else {})
            override['plugins'] = stage_plugins + list(override.get('plugins', []))
            overrides.append(override)
        layer = ResLayer(block=block, inplanes=inplanes, planes=base_channels * 2**i,
                         num_blocks=num_blocks, stride=strides[i], dilation=dilations[i],
                         drop_path_rates=dpr[:num_blocks], block_overrides=overrides,
                         base_channels=base_channels, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                         **(stage_args[i] if stage_args else {}), **common)
        dpr = dpr[num_blocks:]
        inplanes = layer.out_channels
        stages[f'layer{i + 1}'] = layer
        channels.append(layer.out_channels)
        out_strides.append((out_strides[-1] if out_strides else stem_stride) * strides[i])
    return stages, channels, out_strides


def select_plugins(plugins: Sequence[dict] | None, stage_idx: int) -> list[dict]:
    """The plugin configs (``cfg`` + ``position``) of the ``stage_idx``-th stage."""
    selected = []
    for plugin in plugins or ():
        stages = plugin.get('stages')
        if stages is None or stages[stage_idx]:
            selected.append({k: v for k, v in plugin.items() if k != 'stages'})
    return selected
