"""ResNet3d: the 3D ResNet for video clips (N x C x T x H x W), on the shared ResNet skeleton.

Its configuration follows mmaction2 1.x ``ResNet3d`` (``_base_/models/i3d_r50.py`` builds unchanged
once its ``type`` names ours), its weights load from mmaction2 checkpoints and from torchvision's
``r3d_18``, and it is initialised from a 2D ResNet checkpoint by inflation
(:mod:`mmbackbones.checkpoint.inflate`).

The 3D geometry is this family's: :class:`BasicBlock3d`/:class:`Bottleneck3d` are the package's
2D blocks given a :class:`TemporalGeometry` (``(t, k, k)`` convs, the temporal stride on the conv
that carries the spatial stride) and an ``'after_block'`` plugin position; stages, plugins,
zero-init and init come from :class:`ResNetSkeleton`. Module names are those of the 2D ResNet
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``downsample.0/1``), which keeps 2D-to-3D inflation a
name-for-name operation. mmaction2's ConvModule names (``conv1.conv``, ``conv1.bn``) and
torchvision's (``stem.0``, ``conv1.0``) are renamed on load (:mod:`mmbackbones.checkpoint.layouts`).

Where we depart from mmaction2's defaults:
* ``out_indices`` defaults to every stage (our ResNet's default; mmaction2: ``(3, )``), and
  ``forward`` always returns a tuple, also for one index (mmaction2 returns a bare tensor).
* ``depth`` has no default (mmaction2: 50), as in our ResNet.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
from mmcv.cnn import NonLocal3d, build_conv_layer, build_norm_layer

from ...checkpoint import inflate_pretrained, load_pretrained
from ...checkpoint.layouts.base import norm_prefix, rename
from ...registry import MODELS
from ..layers import BasicBlock, Bottleneck, check_choice, check_int, per_stage
from .resnet import ResNet
from .skeleton import ResNetSkeleton, make_stages


@dataclass(frozen=True)
class TemporalGeometry:
    """The conv geometry of a 3D block: ``(t, k, k)`` kernels, ``(t - 1) // 2`` temporal padding,
    no temporal dilation, and the temporal ``stride`` on the conv that carries the spatial stride
    (as mmaction2's ``BasicBlock3d``/``Bottleneck3d`` and torchvision's R3D do).

    Args:
        kernels: Temporal kernels of conv1 and conv2 (a Bottleneck's conv3 is 1 x 1 x 1).
        stride: Temporal stride of the block.
    """

    kernels: tuple[int, int]
    stride: int = 1

    def __post_init__(self) -> None:
        kernels = tuple(self.kernels)
        if len(kernels) != 2 or not all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in kernels):
            raise ValueError(f'temporal_kernels={kernels!r}: a 3D block needs two positive ints '
                             '(the temporal kernels of conv1, conv2).')
        check_int('temporal_stride', self.stride, 1)
        object.__setattr__(self, 'kernels', kernels)

    def __call__(self, conv: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 strided: bool = False) -> dict:
        t = self.kernels[conv - 1] if conv <= 2 else 1
        padding = dilation * (kernel_size - 1) // 2
        return dict(kernel_size=(t, kernel_size, kernel_size),
                    stride=(self.stride if strided else 1, stride, stride),
                    padding=((t - 1) // 2, padding, padding), dilation=(1, dilation, dilation))


class _Block3d:
    """Makes a 2D block 3D: ``temporal_kernels``/``temporal_stride`` become its geometry, and
    ``'after_block'`` plugins (mmaction2's non-local blocks) run on its output."""

    block_plugin_positions = ('after_block', )

    def __init__(self, inplanes: int, planes: int, *, temporal_kernels: Sequence[int] = (1, 1),
                 temporal_stride: int = 1, conv_cfg: dict, norm_cfg: dict, **block_args) -> None:
        geometry = TemporalGeometry(tuple(temporal_kernels), temporal_stride)
        super().__init__(inplanes, planes, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                         conv_geometry=geometry, **block_args)
        self.temporal_kernels = geometry.kernels
        self.temporal_stride = geometry.stride


class BasicBlock3d(_Block3d, BasicBlock):
    """:class:`BasicBlock` with ``(t, 3, 3)`` convs; the temporal stride is on conv1."""


class Bottleneck3d(_Block3d, Bottleneck):
    """:class:`Bottleneck` with ``(t, k, k)`` convs; the temporal stride is on the conv that
    carries the spatial stride (conv2 for ``style='pytorch'``, conv1 for ``'caffe'``)."""


#: The 3D block of each 2D block.
BLOCKS_3D = {BasicBlock: BasicBlock3d, Bottleneck: Bottleneck3d}

# Temporal kernels of (conv1, conv2) per block type and inflate style; a non-inflated block has
# (1, 1). BasicBlock has only 3x3 convs, so both styles inflate both of them to 3x3x3 (as
# mmaction2's BasicBlock3d does).
_INFLATED_KERNELS = {
    (Bottleneck, '3x1x1'): (3, 1),
    (Bottleneck, '3x3x3'): (1, 3),
    (BasicBlock, '3x1x1'): (3, 3),
    (BasicBlock, '3x3x3'): (3, 3),
}


#: The conv and norm layers of :class:`ResNet3d` where a config gives none (mmaction2's).
DEFAULT_CONV_CFG_3D = dict(type='Conv3d')
DEFAULT_NORM_CFG_3D = dict(type='BN3d', requires_grad=True)


@MODELS.register_module()
class ResNet3d(ResNetSkeleton):
    """3D ResNet (I3D, `Quo Vadis, Action Recognition? <https://arxiv.org/abs/1705.07750>`_;
    R3D, `A Closer Look at Spatiotemporal Convolutions <https://arxiv.org/abs/1711.11248>`_).

    Args:
        depth: 18, 34 (BasicBlock), 50, 101 or 152 (Bottleneck).
        stage_blocks: Blocks per stage, overriding the depth's (e.g. ``(2, 2, 2)`` Bottlenecks).
        in_channels: Input channels.
        num_stages: 1-4 stages.
        base_channels: Stem output channels and width of the first stage.
        out_indices: Stages whose outputs ``forward`` returns (always a tuple); negative indices
            count from the last stage. Default: every stage.
        spatial_strides: Spatial stride of each stage's first block (default ``(1, 2, 2, 2)``).
        temporal_strides: Temporal stride of each stage's first block (default all 1).
        dilations: Spatial dilation of each stage (default all 1).
        conv1_kernel: Stem conv kernel ``(t, h, w)``.
        conv1_stride_s: Stem conv spatial stride.
        conv1_stride_t: Stem conv temporal stride.
        pool1_stride_s: Spatial stride of the stem max pool (kernel 1 x 3 x 3).
        pool1_stride_t: Temporal stride of the stem max pool.
        with_pool1: Use the stem max pool (torchvision's R3D has none).
        with_pool2: Temporal max pool (kernel 2, stride 2) on the first stage's output.
        style: ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (on the first 1x1).
        frozen_stages: -1 freezes nothing, 0 the stem, k the stem and the first k stages.
        inflate: Which blocks get a temporal kernel: per stage an int (all blocks) or one 0/1 per
            block, e.g. I3D's ``((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))``.
        inflate_style: ``'3x1x1'`` (Bottleneck conv1 is 3x1x1) or ``'3x3x3'`` (conv2 is
            3x3x3). BasicBlocks inflate both 3x3 convs to 3x3x3 in either style.
        conv_cfg: Conv layer config; must build a 3D conv (default ``Conv3d``).
        norm_cfg: Norm layer config (``BN3d``, ``SyncBN``, ``GN``, ...).
        act_cfg: Activation; only ReLU is supported (accepted for mmaction2 configs).
        norm_eval: Keep BN layers in eval mode while training.
        with_cp: Gradient checkpointing in every block.
        non_local: mmaction2-style non-local pattern (like ``inflate``): an mmcv ``NonLocal3d``
            after the chosen blocks' output.
        non_local_cfg: Arguments of those ``NonLocal3d`` blocks (``mode``, ``sub_sample``, ...).
        plugins: mmdet-style plugin list, ``dict(cfg=..., position='after_conv1' |
            'after_conv2' | 'after_conv3', stages=per-stage bools or None)``; a 3D plugin such as
            ``dict(type=NonLocal3d)`` (mmcv does not register it by name).
        groups: Groups of the Bottleneck 3x3 conv (ResNeXt-3D).
        base_width: Width per group at ``base_channels`` (ResNeXt-3D).
        zero_init_residual: Zero the last norm of every block in random init.
        pretrained: mmaction2's way to initialise: a checkpoint to load in ``init_weights``.
        pretrained2d: With ``pretrained``: it is a 2D ResNet checkpoint, inflated with the I3D
            'mean' method; ``False``: a 3D checkpoint loaded as it is.
        init_cfg: mmengine init config; ``dict(type='Pretrained', checkpoint=...)`` loads a 3D
            checkpoint (ours, mmaction2, torchvision R3D) with a report.

    The model records what mmaction2's ``ResNet3d`` lets users read, read-only and with its
    values (``stage_inflations``/``non_local_stages`` per stage, as mmaction2 keeps them), except
    ``block``: the 2D block the network inflates (its stages hold the matching 3D block), where
    mmaction2 has its 3D block class. ``stage_temporal_strides``, ``groups`` and ``base_width``
    are ours.

    Example:
        >>> import torch
        >>> from mmbackbones.models import ResNet3d
        >>> model = ResNet3d(depth=50, conv1_kernel=(5, 7, 7), conv1_stride_t=2,
        ...                  pool1_stride_t=2).eval()
        >>> for out in model(torch.rand(1, 3, 16, 64, 64)):
        ...     print(tuple(out.shape))
        (1, 256, 2, 16, 16)
        (1, 512, 2, 8, 8)
        (1, 1024, 2, 4, 4)
        (1, 2048, 2, 2, 2)
        >>> model.out_strides, model.stage_temporal_strides
        ((4, 8, 16, 32), (8, 8, 8, 8))
    """

    conv_type = 'Conv3d'
    # narrow, so the registry-wide contract tests stay fast on CPU
    example_input_shape = (2, 3, 4, 32, 32)
    recorded_attributes = (
        'depth', 'block', 'stage_blocks', 'in_channels', 'base_channels', 'spatial_strides',
        'temporal_strides', 'dilations', 'conv1_kernel', 'conv1_stride_s', 'conv1_stride_t',
        'pool1_stride_s', 'pool1_stride_t', 'with_pool1', 'with_pool2', 'style',
        'stage_inflations', 'inflate_style', 'non_local_stages', 'non_local_cfg', 'conv_cfg',
        'norm_cfg', 'act_cfg', 'with_cp', 'groups', 'base_width', 'pretrained', 'pretrained2d',
        'stage_temporal_strides')

    def __init__(self,
                 depth: int,
                 *,
                 stage_blocks: Sequence[int] | None = None,
                 in_channels: int = 3,
                 num_stages: int = 4,
                 base_channels: int = 64,
                 out_indices: int | Sequence[int] | None = None,
                 spatial_strides: Sequence[int] | None = None,
                 temporal_strides: Sequence[int] | None = None,
                 dilations: Sequence[int] | None = None,
                 conv1_kernel: Sequence[int] = (3, 7, 7),
                 conv1_stride_s: int = 2,
                 conv1_stride_t: int = 1,
                 pool1_stride_s: int = 2,
                 pool1_stride_t: int = 1,
                 with_pool1: bool = True,
                 with_pool2: bool = True,
                 style: str = 'pytorch',
                 frozen_stages: int = -1,
                 inflate: int | Sequence = 1,
                 inflate_style: str = '3x1x1',
                 conv_cfg: dict = DEFAULT_CONV_CFG_3D,
                 norm_cfg: dict = DEFAULT_NORM_CFG_3D,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 non_local: int | Sequence = 0,
                 non_local_cfg: dict = dict(),
                 plugins: Sequence[dict] | None = None,
                 groups: int = 1,
                 base_width: int = 64,
                 zero_init_residual: bool = True,
                 pretrained: str | None = None,
                 pretrained2d: bool = True,
                 init_cfg: dict | list | None = None) -> None:
        self.pretrained_init_cfg(pretrained, init_cfg)  # checks; init_weights() loads it
        super().__init__(init_cfg)
        block, default_blocks = self.arch(depth)
        self.check_common(num_stages, in_channels, base_channels, style, conv_cfg, norm_cfg,
                          plugins, conv_cfg_required=True)
        _check_3d_args(inflate_style, act_cfg, conv1_kernel)
        stage_blocks, spatial_strides, temporal_strides, dilations = self.per_stage_ints(
            num_stages, stage_blocks=(stage_blocks, default_blocks),
            spatial_strides=(spatial_strides, (1, 2, 2, 2)),
            temporal_strides=(temporal_strides, (1, ) * 4), dilations=(dilations, (1, ) * 4))
        inflations = _per_block('inflate', inflate, stage_blocks)

        stem, stem_stride_s, stride_t = self._make_stem_layer(
            in_channels, base_channels, tuple(conv1_kernel), conv1_stride_s, conv1_stride_t,
            pool1_stride_s, pool1_stride_t, with_pool1, conv_cfg, norm_cfg)
        # Temporal max pool on the first stage's output (I3D), as in mmaction2.
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1)) if with_pool2 \
            else nn.Identity()
        stages, channels, strides_s = make_stages(
            BLOCKS_3D[block], stage_blocks, base_channels, base_channels, spatial_strides,
            dilations, stem_stride=stem_stride_s, plugins=plugins,
            stage_args=[dict(shortcut_stride=(t, s, s))
                        for t, s in zip(temporal_strides, spatial_strides)],
            block_overrides=_inflation(block, inflations, inflate_style, temporal_strides,
                                       _per_block('non_local', non_local, stage_blocks),
                                       non_local_cfg),
            conv_cfg=conv_cfg, norm_cfg=norm_cfg, style=style, with_cp=with_cp, groups=groups,
            base_width=base_width)
        strides_t = []
        for i, t in enumerate(temporal_strides):
            stride_t *= t * (2 if i == 0 and with_pool2 else 1)
            strides_t.append(stride_t)
        self._set_res_stages(stem, stages, channels, strides_s, out_indices, frozen_stages,
                             norm_eval, zero_init_residual)
        # the 2D ResNet this network inflates, for twin_2d()
        self._twin_2d_args = dict(depth=depth, in_channels=in_channels,
                                  base_channels=base_channels, num_stages=num_stages, style=style,
                                  norm_cfg=_norm_cfg_2d(norm_cfg), groups=groups,
                                  base_width=base_width)
        # what the network is, for layouts, init_weights and users (mmaction2's names);
        # stage_temporal_strides: of every stage's output relative to the input clip
        self._record(
            depth=depth, block=block, stage_blocks=stage_blocks, in_channels=in_channels,
            base_channels=base_channels, spatial_strides=spatial_strides,
            temporal_strides=temporal_strides, dilations=dilations,
            conv1_kernel=tuple(conv1_kernel), conv1_stride_s=conv1_stride_s,
            conv1_stride_t=conv1_stride_t, pool1_stride_s=pool1_stride_s,
            pool1_stride_t=pool1_stride_t, with_pool1=with_pool1, with_pool2=with_pool2,
            style=style, stage_inflations=_per_stage_pattern(inflate, num_stages),
            inflate_style=inflate_style, non_local_stages=_per_stage_pattern(non_local, num_stages),
            non_local_cfg=non_local_cfg, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
            with_cp=with_cp, groups=groups, base_width=base_width, pretrained=pretrained,
            pretrained2d=pretrained2d, stage_temporal_strides=tuple(strides_t))

    def _make_stem_layer(self, in_channels: int, channels: int, kernel: tuple[int, int, int],
                         stride_s: int, stride_t: int, pool_stride_s: int, pool_stride_t: int,
                         with_pool1: bool, conv_cfg: dict, norm_cfg: dict
                         ) -> tuple[list[nn.Module], int, int]:
        """Build conv1/norm1/maxpool; return the modules ``frozen_stages=0`` freezes and the
        stem's spatial and temporal strides."""
        for arg, v in (('conv1_stride_s', stride_s), ('conv1_stride_t', stride_t),
                       ('pool1_stride_s', pool_stride_s), ('pool1_stride_t', pool_stride_t)):
            check_int(arg, v, 1)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, channels, kernel_size=kernel,
                                      stride=(stride_t, stride_s, stride_s),
                                      padding=tuple((k - 1) // 2 for k in kernel), bias=False)
        if not isinstance(self.conv1, nn.Conv3d):
            raise ValueError(f'conv_cfg={conv_cfg!r} builds a {type(self.conv1).__name__}; '
                             "ResNet3d needs a 3D conv, e.g. dict(type='Conv3d').")
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3),
                                    stride=(pool_stride_t, pool_stride_s, pool_stride_s),
                                    padding=(0, 1, 1)) if with_pool1 else nn.Identity()
        if not with_pool1:
            pool_stride_s = pool_stride_t = 1
        return [self.conv1, norm1], stride_s * pool_stride_s, stride_t * pool_stride_t

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        x = super().forward_stage(index, x)
        return self.pool2(x) if index == 0 else x  # N x C x T/2 x H x W after pool2

    # ---------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """Random init from ``init_cfg``, then mmaction2's ``pretrained`` when given."""
        super().init_weights()
        if self.pretrained is None:
            return
        if self.pretrained2d:
            inflate_pretrained(self, self.pretrained, method='mean')
        else:
            load_pretrained(self, self.pretrained)

    def twin_2d(self) -> ResNet:
        """The 2D ResNet this network inflates, built from the arguments this one was built with;
        inflation reads its names, shapes and layouts (mmpretrain/timm), and our 2D and 3D
        module names agree."""
        return ResNet(**copy.deepcopy(self._twin_2d_args))


def _norm_cfg_2d(norm_cfg: dict) -> dict:
    """The 2D twin's norm: ``BN`` for the 3D batch norm, any other norm as it is."""
    norm_cfg = dict(norm_cfg)
    if norm_cfg['type'] in ('BN3d', 'BatchNorm3d'):
        norm_cfg['type'] = 'BN'
    return norm_cfg


def _per_stage_pattern(value: int | Sequence, num_stages: int) -> tuple:
    """mmaction2's per-stage form of ``inflate``/``non_local``: an int repeated per stage, else
    one entry (an int or one per block) per stage."""
    if isinstance(value, int):
        return (value, ) * num_stages
    return tuple(v if isinstance(v, int) else tuple(v) for v in value)


def _check_3d_args(inflate_style: str, act_cfg: dict, conv1_kernel: Sequence[int]) -> None:
    check_choice('inflate_style', inflate_style, ('3x1x1', '3x3x3'))
    if not isinstance(act_cfg, dict) or act_cfg.get('type') != 'ReLU':
        raise ValueError(f"act_cfg={act_cfg!r} is not supported; the blocks use ReLU, so only "
                         "dict(type='ReLU') is allowed.")
    if isinstance(conv1_kernel, int) or len(conv1_kernel) != 3:
        raise ValueError(f'conv1_kernel={conv1_kernel!r} must be (t, h, w).')


def _per_block(arg: str, value, stage_blocks: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """mmaction2's per-stage, per-block 0/1 pattern: an int for all, per stage an int or one entry
    per block."""
    num_stages = len(stage_blocks)
    if isinstance(value, int):
        value = (value, ) * num_stages
    value = per_stage(arg, value, num_stages, ())
    result = []
    for i, (entry, n) in enumerate(zip(value, stage_blocks)):
        entry = (entry, ) * n if isinstance(entry, int) else tuple(entry)
        if len(entry) != n or any(v not in (0, 1) for v in entry):
            raise ValueError(f'{arg}[{i}]={value[i]!r}: stage {i} has {n} blocks; give 0/1 or '
                             f'{n} 0/1 entries.')
        result.append(tuple(int(v) for v in entry))
    return tuple(result)


def _inflation(block: type, inflate: tuple[tuple[int, ...], ...], inflate_style: str,
               temporal_strides: Sequence[int], non_local: tuple[tuple[int, ...], ...],
               non_local_cfg: dict) -> list[list[dict]]:
    """Per stage, per block: temporal kernels (``inflate``), the stage's temporal stride on its
    first block, and a ``NonLocal3d`` after the blocks ``non_local`` marks."""
    kernels = {1: _INFLATED_KERNELS[(block, inflate_style)], 0: (1, 1)}
    nl_plugin = dict(cfg=dict(type=NonLocal3d, **non_local_cfg), position='after_block')
    return [[dict(temporal_kernels=kernels[inflated], plugins=[nl_plugin] if nl else [],
                  temporal_stride=temporal_strides[i] if j == 0 else 1)
             for j, (inflated, nl) in enumerate(zip(stage_inflate, non_local[i]))]
            for i, stage_inflate in enumerate(inflate)]


# ---------------------------------------------------------------- other libraries' names
def torchvision_r3d(state_dict: dict, model: ResNet3d) -> dict:
    """torchvision's video ResNet: the stem ``stem.0/1`` and each ``conv<i>`` a Sequential of
    conv + norm (``conv<i>.0/1``); the shortcut is ``downsample.0/1`` as ours."""
    norm = norm_prefix(model)
    return rename(state_dict, [
        (r'^stem\.0\.', 'conv1.'), (r'^stem\.1\.', f'{norm}1.'),
        (r'(^|\.)conv(\d+)\.0\.', r'\1conv\2.'), (r'(^|\.)conv(\d+)\.1\.', rf'\1{norm}\2.')])


def mmaction2_resnet3d(state_dict: dict, model: ResNet3d) -> dict:
    """mmaction2's ``ResNet3d``: every conv a ConvModule (``conv1.conv``/``conv1.bn``,
    ``layer1.0.conv2.conv``, ``downsample.conv/bn``), the non-local plugin
    ``non_local_block``; ours are the 2D ResNet's names and mmcv's ``non_local3d``."""
    norm = norm_prefix(model)
    return rename(state_dict, [
        (r'(^|\.)conv(\d+)\.conv\.', r'\1conv\2.'),
        (r'(^|\.)conv(\d+)\.(?:bn|gn|ln|in)\.', rf'\1{norm}\2.'),
        (r'\.downsample\.conv\.', '.downsample.0.'),
        (r'\.downsample\.(?:bn|gn|ln|in)\.', '.downsample.1.'),
        (r'\.non_local_block\.', '.non_local3d.')])


ResNet3d.foreign_key_maps = {'torchvision': torchvision_r3d, 'mmaction2': mmaction2_resnet3d}
