"""The residual blocks and the stage builder shared by every ResNet-like family.

There is exactly one ``BasicBlock``, one ``Bottleneck`` and one stage builder (``ResLayer``) in
mmbackbones. ResNeXt is the Bottleneck with ``groups``/``base_width``; other families swap in their
own block class but build stages with ``ResLayer``. The same blocks and builder make the 3D
ResNet (``ResNet3d``): given ``temporal_kernels`` a block builds ``(t, k, k)`` convs (with
``conv_cfg=dict(type='Conv3d')``), and ``ResLayer(temporal_stride=...)`` builds a 3D stage. Module
names (``conv1``, ``bn1``, ...,
``downsample.0/1``) follow mmdetection so its checkpoints load as they are; norm layer names come
from mmcv's ``build_norm_layer`` (``bn1`` for BN, ``gn1`` for GN), exactly as in mmdet.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer, build_plugin_layer
from mmcv.cnn.bricks import DropPath

from .checks import check_choice

ConfigDict = dict


def conv_kwargs(kernel_size: int, stride: int = 1, dilation: int = 1,
                temporal_kernel: int | None = None, temporal_stride: int = 1) -> dict:
    """``kernel_size``/``stride``/``padding``/``dilation`` of a square 'same'-padded conv.

    Ints for a 2D conv; with ``temporal_kernel`` (a 3D conv) ``(t, h, w)`` tuples holding the
    temporal kernel and stride, ``(t - 1) // 2`` temporal padding and no temporal dilation.
    """
    padding = dilation * (kernel_size - 1) // 2
    if temporal_kernel is None:
        return dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    return dict(kernel_size=(temporal_kernel, kernel_size, kernel_size),
                stride=(temporal_stride, stride, stride),
                padding=((temporal_kernel - 1) // 2, padding, padding),
                dilation=(1, dilation, dilation))


class _ResBlock(nn.Module):
    """What both blocks share: plugins at named positions, drop-path, ``with_cp``, and the
    temporal geometry of the 3D variant.

    3D blocks also take ``after_block`` plugins, run on the block output after the residual sum
    and ReLU (where mmaction2's 3D ResNet puts its non-local blocks).
    """

    expansion: int = 1
    plugin_positions: tuple[str, ...] = ()

    def _init_temporal(self, temporal_kernels: Sequence[int] | None,
                       temporal_stride: int | None) -> None:
        """A 2D block when ``temporal_kernels`` is None; else the temporal kernels of conv1 and
        conv2 (a Bottleneck's conv3 is always 1 x 1 x 1)."""
        if temporal_kernels is None:
            if temporal_stride is not None:
                raise ValueError(f'temporal_stride={temporal_stride!r} needs temporal_kernels '
                                 f'(a 3D block); {type(self).__name__} got temporal_kernels=None.')
        else:
            temporal_kernels = tuple(temporal_kernels)
            if len(temporal_kernels) != 2 or not all(
                    isinstance(k, int) and not isinstance(k, bool) and k >= 1
                    for k in temporal_kernels):
                raise ValueError(f'temporal_kernels={temporal_kernels!r}: {type(self).__name__} '
                                 'needs two positive ints (the temporal kernels of conv1, conv2).')
            temporal_stride = 1 if temporal_stride is None else temporal_stride
        self.temporal_kernels = temporal_kernels
        self.temporal_stride = temporal_stride

    def _conv_kwargs(self, conv: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                     strided: bool = False) -> dict:
        """Geometry of conv ``conv`` (1-based); the temporal stride goes where ``strided``."""
        if self.temporal_kernels is None:
            return conv_kwargs(kernel_size, stride, dilation)
        temporal_kernel = self.temporal_kernels[conv - 1] if conv <= 2 else 1
        return conv_kwargs(kernel_size, stride, dilation, temporal_kernel,
                           self.temporal_stride if strided else 1)

    def _init_common(self, plugins: Sequence[dict] | None, channels: dict[str, int],
                     drop_path_rate: float, with_cp: bool) -> None:
        self.with_cp = with_cp
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        positions = tuple(self.plugin_positions)
        if getattr(self, 'temporal_kernels', None) is not None and 'after_block' in channels:
            positions += ('after_block', )
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

    @property
    def _last_plugins(self) -> bool:
        """Whether plugins run on the residual branch's output (before the sum)."""
        last = self.plugin_positions[-1] if self.plugin_positions else None
        return bool(last and self.plugin_names.get(last))

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
        if self.plugin_names.get('after_block'):
            out = self._plugins(out, 'after_block')
        return out


class BasicBlock(_ResBlock):
    """Two 3x3 convs (ResNet-18/34). Plugins at ``after_conv1`` and ``after_conv2``.

    The 3D block (``temporal_kernels=(t1, t2)``) puts ``temporal_stride`` on conv1 with the spatial
    stride, as mmaction2's ``BasicBlock3d`` and torchvision's R3D do.
    """

    expansion = 1
    plugin_positions = ('after_conv1', 'after_conv2')

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: nn.Module | None = None,
                 style: str = 'pytorch',
                 with_cp: bool = False,
                 conv_cfg: ConfigDict | None = None,
                 norm_cfg: ConfigDict = dict(type='BN'),
                 dcn: ConfigDict | None = None,
                 plugins: Sequence[dict] | None = None,
                 drop_path_rate: float = 0.0,
                 groups: int = 1,
                 base_width: int = 64,
                 base_channels: int = 64,
                 temporal_kernels: Sequence[int] | None = None,
                 temporal_stride: int | None = None) -> None:
        super().__init__()
        if dcn is not None:
            raise ValueError(f'dcn={dcn!r} is not supported by BasicBlock (ResNet-18/34); use a '
                             'Bottleneck depth (50/101/152).')
        self._init_temporal(temporal_kernels, temporal_stride)
        if groups != 1 or base_width != 64:
            raise ValueError(f'BasicBlock supports only groups=1 and base_width=64, got '
                             f'groups={groups}, base_width={base_width}.')
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, bias=False,
                                      **self._conv_kwargs(1, 3, stride, dilation, strided=True))
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, bias=False,
                                      **self._conv_kwargs(2, 3))
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.dilation = dilation
        self._init_common(plugins, {'after_conv1': planes, 'after_conv2': planes,
                                    'after_block': planes}, drop_path_rate, with_cp)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def last_norm(self) -> nn.Module:
        return self.norm2

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self._plugins(out, 'after_conv1')
        out = self.norm2(self.conv2(out))
        return self._plugins(out, 'after_conv2')

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """(conv, norm) pairs for conv-BN folding (:mod:`mmbackbones.deploy.fuse`)."""
        return [('conv1', self.norm1_name), ('conv2', self.norm2_name)]


class Bottleneck(_ResBlock):
    """1x1 reduce, 3x3 (grouped for ResNeXt, deformable with ``dcn``), 1x1 expand.

    ``style='pytorch'`` puts the stride on the 3x3 conv (ResNet v1.5, torchvision); ``'caffe'`` on
    the first 1x1 conv. With ``groups > 1`` the 3x3 conv is grouped and its width is
    ``planes * base_width // base_channels * groups`` (ResNeXt); the 1x1 convs are never grouped.
    The 3D block (``temporal_kernels=(t1, t2)``, conv3 is always 1 x 1 x 1) puts
    ``temporal_stride`` on the conv that carries the spatial stride, as mmaction2's
    ``Bottleneck3d`` does.
    """

    expansion = 4
    plugin_positions = ('after_conv1', 'after_conv2', 'after_conv3')

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: nn.Module | None = None,
                 style: str = 'pytorch',
                 with_cp: bool = False,
                 conv_cfg: ConfigDict | None = None,
                 norm_cfg: ConfigDict = dict(type='BN'),
                 dcn: ConfigDict | None = None,
                 plugins: Sequence[dict] | None = None,
                 drop_path_rate: float = 0.0,
                 groups: int = 1,
                 base_width: int = 64,
                 base_channels: int = 64,
                 temporal_kernels: Sequence[int] | None = None,
                 temporal_stride: int | None = None) -> None:
        super().__init__()
        check_choice('style', style, ('pytorch', 'caffe'))
        self._init_temporal(temporal_kernels, temporal_stride)
        if dcn is not None and temporal_kernels is not None:
            raise ValueError(f'dcn={dcn!r} is 2D only; the 3D Bottleneck '
                             f'(temporal_kernels={tuple(temporal_kernels)}) does not support it.')
        self.inplanes = inplanes
        self.planes = planes
        self.stride = stride
        self.dilation = dilation
        self.style = style
        self.conv1_stride, self.conv2_stride = (1, stride) if style == 'pytorch' else (stride, 1)
        width = planes if groups == 1 else planes * base_width // base_channels * groups
        self.width = width

        self.norm1_name, norm1 = build_norm_layer(norm_cfg, width, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, width, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, planes * self.expansion, postfix=3)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, width, bias=False,
                                      **self._conv_kwargs(1, 1, self.conv1_stride,
                                                          strided=style == 'caffe'))
        self.add_module(self.norm1_name, norm1)
        conv2_cfg = conv_cfg
        if dcn is not None:
            dcn = dict(dcn)
            # mmdet's flag: keep a plain conv where this block strides.
            fallback_on_stride = dcn.pop('fallback_on_stride', False)
            if not (fallback_on_stride and self.conv2_stride > 1):
                conv2_cfg = dcn
        self.with_dcn = conv2_cfg is not conv_cfg
        self.conv2 = build_conv_layer(conv2_cfg, width, width, groups=groups, bias=False,
                                      **self._conv_kwargs(2, 3, self.conv2_stride, dilation,
                                                          strided=style == 'pytorch'))
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, width, planes * self.expansion, bias=False,
                                      **self._conv_kwargs(3, 1))
        self.add_module(self.norm3_name, norm3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self._init_common(plugins, {'after_conv1': width, 'after_conv2': width,
                                    'after_conv3': planes * self.expansion,
                                    'after_block': planes * self.expansion},
                          drop_path_rate, with_cp)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    @property
    def last_norm(self) -> nn.Module:
        return self.norm3

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self._plugins(out, 'after_conv1')
        out = self.relu(self.norm2(self.conv2(out)))
        out = self._plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self._plugins(out, 'after_conv3')

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """(conv, norm) pairs for conv-BN folding (:mod:`mmbackbones.deploy.fuse`)."""
        return [('conv1', self.norm1_name), ('conv2', self.norm2_name),
                ('conv3', self.norm3_name)]


class ResLayer(nn.Sequential):
    """One stage: ``num_blocks`` blocks, the first one strided and carrying the shortcut projection.

    The projection is a 1x1 conv + norm (``downsample.0/1``); with ``avg_down`` and a stride it is
    AvgPool(stride) + stride-1 1x1 conv + norm (``downsample.0/1/2``), as in mmdet/mmpretrain and
    the "Bag of Tricks" ResNet-D.

    A 3D stage (``temporal_stride`` given, for ``ResNet3d``) strides its first block and its 1 x 1 x
    1 projection by ``(temporal_stride, stride, stride)``; ``block_overrides`` then carries each
    block's ``temporal_kernels`` (the inflate pattern).

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
        temporal_stride: ``None`` for a 2D stage; else the temporal stride of a 3D stage.
        block_overrides: One dict per block, merged over ``block_kwargs`` for that block (e.g.
            per-block ``temporal_kernels`` or ``plugins``).
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
                 norm_cfg: ConfigDict = dict(type='BN'),
                 drop_path_rates: float | Sequence[float] = 0.0,
                 temporal_stride: int | None = None,
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
        is_3d = temporal_stride is not None
        if is_3d and avg_down:
            raise ValueError('avg_down=True is 2D only; a 3D stage (temporal_stride='
                             f'{temporal_stride}) uses a strided 1 x 1 x 1 projection.')
        downsample = None
        if stride != 1 or (temporal_stride or 1) != 1 or inplanes != out_channels:
            layers: list[nn.Module] = []
            conv_stride = (temporal_stride, stride, stride) if is_3d else stride
            if avg_down and stride != 1:
                conv_stride = 1
                layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True,
                                           count_include_pad=False))
            layers += [
                build_conv_layer(conv_cfg, inplanes, out_channels, kernel_size=1,
                                 stride=conv_stride, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1],
            ]
            downsample = nn.Sequential(*layers)
        blocks = []
        for i in range(num_blocks):
            kwargs = dict(block_kwargs, **block_overrides[i])
            if is_3d:  # 2D calls keep their exact keyword set (other families' blocks)
                kwargs['temporal_stride'] = temporal_stride if i == 0 else 1
            blocks.append(block(inplanes=inplanes if i == 0 else out_channels, planes=planes,
                                stride=stride if i == 0 else 1,
                                downsample=downsample if i == 0 else None, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, drop_path_rate=drop_path_rates[i],
                                **kwargs))
        super().__init__(*blocks)
        self.out_channels = out_channels
