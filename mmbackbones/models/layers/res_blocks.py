"""The residual blocks and the stage builder shared by every ResNet-like family.

There is exactly one ``BasicBlock``, one ``Bottleneck`` and one stage builder (``ResLayer``) in
mmbackbones. ResNeXt is the Bottleneck with ``groups``/``base_width``; Res2Net's block replaces
the Bottleneck's 3x3 conv (:meth:`Bottleneck.make_conv2`); the 3D ResNet's blocks are these
blocks with a temporal ``conv_geometry`` (``mmbackbones.models.backbones.resnet3d``). Module
names (``conv1``, ``bn1``, ..., ``downsample.0/1``) follow mmdetection so its checkpoints load as
they are; norm layer names come from mmcv's ``build_norm_layer`` (``bn1`` for BN, ``gn1`` for GN),
exactly as in mmdet.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer, build_plugin_layer
from mmcv.cnn.bricks import DropPath

from .checks import check_choice, check_int

ConfigDict = dict
#: The norm layer of the ResNet-like families, their blocks and stages where a caller gives none
#: (mmdet's and mmpretrain's ``ResNet`` default). Never changed in place: mmcv's builders copy it.
DEFAULT_NORM_CFG: ConfigDict = dict(type='BN', requires_grad=True)
#: ``conv_geometry(conv, kernel_size, stride, dilation, strided) -> conv kwargs``: the shape of
#: conv ``conv`` (1-based) of a block; ``strided`` marks the conv that carries the block's stride.
ConvGeometry = Callable[[int, int, int, int, bool], dict]


def conv_kwargs(kernel_size: int, stride: int = 1, dilation: int = 1) -> dict:
    """``kernel_size``/``stride``/``padding``/``dilation`` of a square 'same'-padded conv."""
    return dict(kernel_size=kernel_size, stride=stride, padding=dilation * (kernel_size - 1) // 2,
                dilation=dilation)


def planar_geometry(conv: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                    strided: bool = False) -> dict:
    """The 2D blocks' geometry: every conv square and 'same'-padded."""
    return conv_kwargs(kernel_size, stride, dilation)


class _ResBlock(nn.Module):
    """What every residual block shares: its signature, plugins at named positions, drop-path,
    ``with_cp``.

    A block subclass builds its residual branch in :meth:`_make_branch` from the arguments it is
    given and returns the channels at each of its ``plugin_positions`` (positions on the residual
    branch); a family's block may add ``block_plugin_positions`` that run on the block output
    after the sum and ReLU (the 3D blocks' ``'after_block'``, where mmaction2 puts its non-local
    blocks).

    Args:
        inplanes: Input channels.
        planes: Base width; the block outputs ``planes * expansion`` channels.
        stride: Stride of the block (on the conv ``style`` says).
        dilation: Dilation of the 3x3 conv(s).
        downsample: The shortcut projection (``None``: identity).
        style: ``'pytorch'`` or ``'caffe'`` (where a Bottleneck strides).
        with_cp: Gradient checkpointing of the block.
        conv_cfg: Conv layer config (``None``: ``Conv2d``).
        norm_cfg: Norm layer config.
        dcn: Deformable conv config of a Bottleneck's 3x3 conv.
        plugins: ``dict(cfg=..., position=...)`` entries for this block.
        drop_path_rate: Stochastic depth of the residual branch.
        groups: Groups of a Bottleneck's 3x3 conv (ResNeXt).
        base_width: Width per group at ``base_channels`` (ResNeXt).
        base_channels: ``planes`` of the first stage.
        conv_geometry: Shapes of the convs (default: square 2D).
    """

    expansion: int = 1
    plugin_positions: tuple[str, ...] = ()
    block_plugin_positions: tuple[str, ...] = ()

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: nn.Module | None = None,
                 style: str = 'pytorch',
                 with_cp: bool = False,
                 conv_cfg: ConfigDict | None = None,
                 norm_cfg: ConfigDict = DEFAULT_NORM_CFG,
                 dcn: ConfigDict | None = None,
                 plugins: Sequence[dict] | None = None,
                 drop_path_rate: float = 0.0,
                 groups: int = 1,
                 base_width: int = 64,
                 base_channels: int = 64,
                 conv_geometry: ConvGeometry | None = None) -> None:
        super().__init__()
        check_choice('style', style, ('pytorch', 'caffe'))
        self.inplanes = inplanes
        self.planes = planes
        self.stride = stride
        self.dilation = dilation
        self.style = style
        self.conv_geometry = conv_geometry or planar_geometry
        channels = self._make_branch(inplanes, planes, stride, dilation, style, conv_cfg,
                                     norm_cfg, dcn, groups, base_width, base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        channels['after_block'] = planes * self.expansion
        positions = tuple(self.plugin_positions) + tuple(self.block_plugin_positions)
        self.plugin_names: dict[str, list[str]] = {pos: [] for pos in positions}
        for plugin in plugins or ():
            position = plugin['position']
            check_choice(f'plugins position (in {type(self).__name__})', position, positions)
            cfg = dict(plugin['cfg'])
            name, layer = build_plugin_layer(cfg, in_channels=channels[position],
                                             postfix=cfg.pop('postfix', ''))
            if hasattr(self, name):
                raise ValueError(f'plugins: two plugins would both be named {name!r}; give each '
                                 "a distinct cfg['postfix'].")
            self.add_module(name, layer)
            self.plugin_names[position].append(name)

    def _make_branch(self, inplanes: int, planes: int, stride: int, dilation: int, style: str,
                     conv_cfg: ConfigDict | None, norm_cfg: ConfigDict, dcn: ConfigDict | None,
                     groups: int, base_width: int, base_channels: int) -> dict[str, int]:
        """Build the residual branch's convs and norms; return the channels at each of
        ``plugin_positions``."""
        raise NotImplementedError

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def last_norm(self) -> nn.Module:
        """The norm closing the residual branch (zero-initialised with ``zero_init_residual``):
        that of the last (conv, norm) pair."""
        return getattr(self, self.conv_norm_pairs()[-1][1])

    @property
    def _last_plugins(self) -> bool:
        """Whether plugins run on the residual branch's output (before the sum)."""
        return bool(self.plugin_positions and self.plugin_names[self.plugin_positions[-1]])

    def _plugins(self, x: torch.Tensor, position: str) -> torch.Tensor:
        for name in self.plugin_names[position]:
            x = getattr(self, name)(x)
        return x

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def inner(x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.drop_path(self._residual(x))
            if self._last_plugins:  # a plugin's output may be saved for its backward
                return out + identity
            out += identity  # in place, as torchvision/timm: one allocation less per block
            return out

        if self.with_cp and torch.is_grad_enabled():
            out = cp.checkpoint(inner, x, use_reentrant=False)
        else:
            out = inner(x)
        out = self.relu(out)
        for position in self.block_plugin_positions:
            out = self._plugins(out, position)
        return out


class BasicBlock(_ResBlock):
    """Two 3x3 convs (ResNet-18/34). Plugins at ``after_conv1`` and ``after_conv2``.

    ``conv_geometry`` shapes the convs (default: square 2D); the stride is on conv1. Arguments:
    :class:`_ResBlock`'s; ``dcn``, ``groups`` and ``base_width`` need a :class:`Bottleneck`.
    """

    expansion = 1
    plugin_positions = ('after_conv1', 'after_conv2')

    def _make_branch(self, inplanes: int, planes: int, stride: int, dilation: int, style: str,
                     conv_cfg: ConfigDict | None, norm_cfg: ConfigDict, dcn: ConfigDict | None,
                     groups: int, base_width: int, base_channels: int) -> dict[str, int]:
        if dcn is not None:
            raise ValueError(f'dcn={dcn!r} is not supported by BasicBlock (ResNet-18/34); use a '
                             'Bottleneck depth (50/101/152).')
        if groups != 1 or base_width != 64:
            raise ValueError(f'groups={groups}/base_width={base_width} need a Bottleneck depth '
                             '(50/101/152); BasicBlock (ResNet-18/34) supports only groups=1, '
                             'base_width=64.')
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, bias=False,
                                      **self.conv_geometry(1, 3, stride, dilation, True))
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, bias=False,
                                      **self.conv_geometry(2, 3, 1, 1, False))
        self.add_module(self.norm2_name, norm2)
        return {'after_conv1': planes, 'after_conv2': planes}

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self._plugins(out, 'after_conv1')
        out = self.norm2(self.conv2(out))
        return self._plugins(out, 'after_conv2')

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """(conv, norm) pairs for conv-BN folding (:mod:`mmbackbones.models.fuse`)."""
        return [('conv1', self.norm1_name), ('conv2', self.norm2_name)]


class Bottleneck(_ResBlock):
    """1x1 reduce, 3x3 (grouped for ResNeXt, deformable with ``dcn``), 1x1 expand.

    ``style='pytorch'`` puts the stride on the 3x3 conv (ResNet v1.5, torchvision); ``'caffe'`` on
    the first 1x1 conv. With ``groups > 1`` the 3x3 conv is grouped and its width is
    ``planes * base_width // base_channels * groups`` (ResNeXt); the 1x1 convs are never grouped.
    A family with another middle transform overrides :meth:`make_conv2` (Res2Net). Arguments:
    :class:`_ResBlock`'s.
    """

    expansion = 4
    plugin_positions = ('after_conv1', 'after_conv2', 'after_conv3')

    def _make_branch(self, inplanes: int, planes: int, stride: int, dilation: int, style: str,
                     conv_cfg: ConfigDict | None, norm_cfg: ConfigDict, dcn: ConfigDict | None,
                     groups: int, base_width: int, base_channels: int) -> dict[str, int]:
        check_int('groups', groups, 1)
        check_int('base_width', base_width, 1)
        self.conv1_stride, self.conv2_stride = (1, stride) if style == 'pytorch' else (stride, 1)
        width = planes if groups == 1 else planes * base_width // base_channels * groups
        self.width = width
        out_channels = planes * self.expansion

        self.norm1_name, norm1 = build_norm_layer(norm_cfg, width, postfix=1)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, out_channels, postfix=3)
        self.conv1 = build_conv_layer(
            conv_cfg, inplanes, width, bias=False,
            **self.conv_geometry(1, 1, self.conv1_stride, 1, style == 'caffe'))
        self.add_module(self.norm1_name, norm1)
        conv2_cfg = conv_cfg
        if dcn is not None:
            dcn = dict(dcn)
            # mmdet's flag: keep a plain conv where this block strides.
            fallback_on_stride = dcn.pop('fallback_on_stride', False)
            if not (fallback_on_stride and self.conv2_stride > 1):
                conv2_cfg = dcn
        self.with_dcn = conv2_cfg is not conv_cfg
        self.make_conv2(width, groups, self.conv2_stride, dilation, style == 'pytorch',
                        conv2_cfg, norm_cfg)
        self.conv3 = build_conv_layer(conv_cfg, width, out_channels, bias=False,
                                      **self.conv_geometry(3, 1, 1, 1, False))
        self.add_module(self.norm3_name, norm3)
        return {'after_conv1': width, 'after_conv2': width, 'after_conv3': out_channels}

    def make_conv2(self, width: int, groups: int, stride: int, dilation: int, strided: bool,
                   conv_cfg: ConfigDict | None, norm_cfg: ConfigDict) -> None:
        """Build the middle transform (``width`` channels in and out): the 3x3 ``conv2`` + norm.

        ``strided`` says whether it carries the block's stride (``style='pytorch'``), for a
        ``conv_geometry`` that strides in time too.
        """
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, width, postfix=2)
        self.conv2 = build_conv_layer(conv_cfg, width, width, groups=groups, bias=False,
                                      **self.conv_geometry(2, 3, stride, dilation, strided))
        self.add_module(self.norm2_name, norm2)

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self._plugins(out, 'after_conv1')
        out = self.relu(self.norm2(self.conv2(out)))
        out = self._plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self._plugins(out, 'after_conv3')

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """(conv, norm) pairs for conv-BN folding (:mod:`mmbackbones.models.fuse`)."""
        return [('conv1', self.norm1_name), ('conv2', self.norm2_name),
                ('conv3', self.norm3_name)]


def _is_one(stride: int | Sequence[int]) -> bool:
    return all(s == 1 for s in (stride if isinstance(stride, Sequence) else (stride, )))


class ResLayer(nn.Sequential):
    """One stage: ``num_blocks`` blocks, the first one strided and carrying the shortcut projection.

    The projection is a 1x1 conv + norm (``downsample.0/1``); with ``avg_down`` and a stride it is
    AvgPool(stride) + stride-1 1x1 conv + norm (``downsample.0/1/2``), as in mmdet/mmpretrain and
    the "Bag of Tricks" ResNet-D.

    Args:
        block: The block class (``BasicBlock``, ``Bottleneck`` or a family's own block).
        inplanes: Input channels of the stage.
        planes: Base width of the stage; the output has ``planes * block.expansion`` channels.
        num_blocks: Number of blocks.
        stride: Stride of the first block.
        avg_down: Use the AvgPool shortcut when the stage strides.
        conv_cfg: Conv config for every conv of the stage.
        norm_cfg: Norm config for every norm of the stage.
        drop_path_rates: One stochastic-depth rate per block (or one float for all).
        shortcut_stride: Stride of the projection conv when it is not ``stride`` (a 3D stage
            strides its shortcut by ``(t, s, s)``); any non-1 entry asks for a projection.
        block_overrides: One dict per block, merged over ``block_kwargs`` for that block (e.g.
            Res2Net's first-of-stage ``stage_type``, the 3D blocks' per-block temporal kernels).
        block_kwargs: Passed to every block (``dilation``, ``style``, ``with_cp``, ``dcn``,
            ``plugins``, ``groups``, ...).
    """

    def __init__(self,
                 block: Callable[..., nn.Module],
                 inplanes: int,
                 planes: int,
                 num_blocks: int,
                 stride: int = 1,
                 avg_down: bool = False,
                 conv_cfg: ConfigDict | None = None,
                 norm_cfg: ConfigDict = DEFAULT_NORM_CFG,
                 drop_path_rates: float | Sequence[float] = 0.0,
                 shortcut_stride: int | Sequence[int] | None = None,
                 block_overrides: Sequence[dict] | None = None,
                 **block_kwargs) -> None:
        self.block = block
        out_channels = planes * block.expansion
        if isinstance(drop_path_rates, (int, float)):
            drop_path_rates = [float(drop_path_rates)] * num_blocks
        if len(drop_path_rates) != num_blocks:
            raise ValueError(f'drop_path_rates has {len(drop_path_rates)} entries for a stage of '
                             f'{num_blocks} blocks.')
        block_overrides = list(block_overrides) if block_overrides is not None else \
            [{}] * num_blocks
        if len(block_overrides) != num_blocks:
            raise ValueError(f'block_overrides has {len(block_overrides)} entries for a stage of '
                             f'{num_blocks} blocks.')
        shortcut_stride = stride if shortcut_stride is None else shortcut_stride
        downsample = None
        if not _is_one(shortcut_stride) or inplanes != out_channels:
            layers: list[nn.Module] = []
            if avg_down and stride != 1:
                shortcut_stride = 1
                layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True,
                                           count_include_pad=False))
            layers += [
                build_conv_layer(conv_cfg, inplanes, out_channels, kernel_size=1,
                                 stride=shortcut_stride, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1],
            ]
            downsample = nn.Sequential(*layers)
        blocks = []
        for i in range(num_blocks):
            blocks.append(block(inplanes=inplanes if i == 0 else out_channels, planes=planes,
                                stride=stride if i == 0 else 1,
                                downsample=downsample if i == 0 else None, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, drop_path_rate=drop_path_rates[i],
                                **dict(block_kwargs, **block_overrides[i])))
        super().__init__(*blocks)
        self.out_channels = out_channels
