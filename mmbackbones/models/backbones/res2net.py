"""Res2Net (`A New Multi-scale Backbone Architecture <https://arxiv.org/abs/1904.01169>`_).

Res2Net is ResNet with another block: :class:`Bottle2neck` replaces the Bottleneck's 3x3 conv by
``scales - 1`` hierarchical 3x3 convs over channel splits. Stem, stages, shortcuts and every
option come from :class:`ResNet`.

Module names follow mmdetection/mmpretrain (``convs.{i}``, ``bns.{i}``, ``pool``, ResNet's stem and
``downsample``), so their checkpoints load as they are; the official Res2Net and timm checkpoints
use the same block names and ResNet's stem/shortcut remapping.

Two behaviours of the first block of a stage exist where its 3x3 convs do not stride (the first
stage, or ``style='caffe'``): mmdetection concatenates the last split unpooled, the original
Res2Net code, mmpretrain and timm pass it through a stride-1 3x3 average pool. We follow mmdet by
default; ``stride1_pool=True`` gives the other, so each library's checkpoints reproduce that
library's outputs.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer

from ...registry import MODELS
from ..layers import DEFAULT_NORM_CFG, Bottleneck, check_choice, check_int
from ..variants import register_variant
from .resnet import ResNet


class Bottle2neck(Bottleneck):
    """The Res2Net block: 1x1 conv to ``width * scales``, hierarchical 3x3 convs, 1x1 expand.

    The 1x1 conv output is split into ``scales`` groups of ``width`` channels. The first
    ``scales - 1`` go through their own 3x3 conv + norm + ReLU; in a ``'normal'`` block each split
    first adds the previous split's output, in a ``'stage'`` block (the first of a stage) they are
    independent and the last split is average-pooled with the block's stride. The last split is
    concatenated back without a conv.

    Args:
        inplanes: Input channels.
        planes: ResNet width of the stage; the block outputs ``planes * 4`` channels.
        scales: Number of splits (the "s" in 26w4s), at least 2.
        base_width: Width of one split in the first stage (the "w" in 26w4s).
        base_channels: ``planes`` of the first stage; ``width = planes * base_width //
            base_channels``.
        stage_type: ``'stage'`` for the first block of a stage, ``'normal'`` otherwise.
        stride1_pool: In a ``'stage'`` block whose 3x3 convs do not stride, pool the last split
            with a stride-1 3x3 average pool (original Res2Net, mmpretrain, timm) instead of
            concatenating it as it is (mmdetection).
        conv_cfg: Conv layer config of every conv.
        norm_cfg: Norm layer config of every norm.
        **block_args: The other :class:`Bottleneck` arguments (``stride``, ``dilation``,
            ``downsample``, ``style``, ``with_cp``, ``dcn``, ``plugins``, ``drop_path_rate``).
    """

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 *,
                 scales: int = 4,
                 base_width: int = 26,
                 base_channels: int = 64,
                 stage_type: str = 'normal',
                 stride1_pool: bool = False,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 **block_args) -> None:
        check_int('scales', scales, 2)
        check_int('base_width', base_width, 1)
        check_choice('stage_type', stage_type, ('normal', 'stage'))
        width = planes * base_width // base_channels
        if width < 1:
            raise ValueError(f'base_width={base_width} gives {width} channels per split at '
                             f'planes={planes} (base_channels={base_channels}); need >= 1.')
        # Bottleneck's grouped width, planes * base_width // base_channels * groups, with
        # groups=scales is exactly Res2Net's width * scales: conv1/norm1, conv3/norm3 and the
        # plugin channels are built right by the parent, which asks make_conv2 for the middle.
        super().__init__(inplanes, planes, groups=scales, base_width=base_width,
                         base_channels=base_channels, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                         **block_args)
        self.width = width
        self.scales = scales
        self.stage_type = stage_type
        self.pool = None
        if stage_type == 'stage' and (self.conv2_stride > 1 or stride1_pool):
            self.pool = nn.AvgPool2d(kernel_size=3, stride=self.conv2_stride, padding=1)

    def make_conv2(self, width: int, groups: int, stride: int, dilation: int, strided: bool,
                   conv_cfg: dict | None, norm_cfg: dict) -> None:
        """``groups`` (= ``scales``) - 1 hierarchical 3x3 convs + norms over ``width // groups``
        channels each (``convs.{i}``, ``bns.{i}``, mmdet's names), instead of one 3x3 conv."""
        split = width // groups
        self.convs = nn.ModuleList(
            build_conv_layer(conv_cfg, split, split, kernel_size=3, stride=stride,
                             padding=dilation, dilation=dilation, bias=False)
            for _ in range(groups - 1))
        self.bns = nn.ModuleList(
            build_norm_layer(norm_cfg, split, postfix=i + 1)[1] for i in range(groups - 1))

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))  # N x width*scales x H x W
        out = self._plugins(out, 'after_conv1')
        # Views, not copies: each split is copied at most once (inside its conv, or by the one
        # final cat), and the outputs are concatenated once instead of growing per split.
        splits = torch.split(out, self.width, 1)
        outs = []
        sp = splits[0]
        for i, (conv, norm) in enumerate(zip(self.convs, self.bns)):
            if i > 0:
                sp = splits[i] if self.stage_type == 'stage' else sp + splits[i]
            if self.with_dcn:  # mmcv's deformable conv needs a contiguous input
                sp = sp.contiguous()
            sp = self.relu(norm(conv(sp)))
            outs.append(sp)
        outs.append(splits[-1] if self.pool is None else self.pool(splits[-1]))
        out = torch.cat(outs, 1)  # N x width*scales x H/stride x W/stride
        out = self._plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))
        return self._plugins(out, 'after_conv3')

    def conv_norm_pairs(self) -> list[tuple[str, str]]:
        """(conv, norm) pairs for conv-BN folding: conv1, each split's ``convs.i``/``bns.i``,
        conv3."""
        return ([('conv1', self.norm1_name)] +
                [(f'convs.{i}', f'bns.{i}') for i in range(len(self.convs))] +
                [('conv3', self.norm3_name)])


@MODELS.register_module()
class Res2Net(ResNet):
    """Res2Net backbone: ResNet-50/101/152 with :class:`Bottle2neck` blocks.

    The defaults build Res2Net-v1b (deep stem + AvgPool shortcuts; mmdet calls its weights
    "v1d"), which mmdetection always builds and mmpretrain's class defaults to; the original
    Res2Net of the paper, timm's ``res2net50_26w_4s`` and mmpretrain's classification configs is
    ``deep_stem=False, avg_down=False``.

    Args:
        depth: 50, 101 or 152.
        scales: Splits per block (the "s" in 26w4s), at least 2.
        base_width: Channels of one split in the first stage (the "w" in 26w4s); stage ``i`` has
            ``base_width * 2**i`` per split.
        deep_stem: Three 3x3 convs instead of the 7x7 stem (v1b).
        avg_down: AvgPool + stride-1 conv in strided shortcuts (v1b).
        stride1_pool: Where the first block of a stage does not stride its 3x3 convs (the first
            stage), still pass the last split through a stride-1 3x3 average pool: ``False``
            follows mmdetection, ``True`` the original Res2Net code, mmpretrain and timm. Set it
            to ``True`` to reproduce mmpretrain/timm/official checkpoints exactly. It adds no
            parameters.
        groups: Must be 1 (grouped Res2NeXt splits are not supported).
        conv_cfg: Conv layer config (:class:`ResNet`'s).
        norm_cfg: Norm layer config (:class:`ResNet`'s).
        **kwargs: Every other :class:`ResNet` argument (``out_indices``, ``frozen_stages``,
            ``norm_eval``, ``style``, ``strides``, ``dilations``, ``plugins`` at
            ``after_conv1``/``after_conv2``/``after_conv3``, ``dcn`` for the split convs,
            ``with_cp``, ``drop_path_rate`` (applied per block), ``init_cfg``, ...).

    ``scales``, ``base_width`` and ``stride1_pool`` are recorded with ResNet's attributes.

    Example:
        >>> import torch
        >>> from mmbackbones.models import Res2Net
        >>> model = Res2Net(depth=50, scales=4, base_width=26).eval()
        >>> feats = model(torch.rand(1, 3, 64, 64))
        >>> [tuple(f.shape[1:]) for f in feats] == [(256, 16, 16), (512, 8, 8), (1024, 4, 4),
        ...                                         (2048, 2, 2)]
        True
        >>> len(model.layer1[0].convs), model.layer1[0].convs[0].out_channels
        (3, 26)
    """

    arch_settings = {depth: (Bottle2neck, blocks) for depth, (_, blocks) in
                     ResNet.arch_settings.items() if depth >= 50}
    first_block_args = dict(stage_type='stage')
    recorded_attributes = ('scales', 'base_width', 'stride1_pool')

    def __init__(self,
                 depth: int,
                 *,
                 scales: int = 4,
                 base_width: int = 26,
                 deep_stem: bool = True,
                 avg_down: bool = True,
                 stride1_pool: bool = False,
                 groups: int = 1,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 **kwargs) -> None:
        if groups != 1:
            raise ValueError(f'groups={groups!r} is not supported by Res2Net (grouped Res2NeXt '
                             'splits); allowed: 1.')
        super().__init__(depth=depth, deep_stem=deep_stem, avg_down=avg_down, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg,
                         _block_args=dict(scales=scales, base_width=base_width,
                                          stride1_pool=bool(stride1_pool)), **kwargs)
        self._record(scales=scales, base_width=base_width, stride1_pool=bool(stride1_pool))


# Named variants, named as in the official Res2Net repository: the original design
# (res2net50_26w_4s) and v1b (deep stem + AvgPool shortcuts, res2net50_v1b_26w_4s).
for _depth, _width, _scales, _v1b in ((50, 26, 4, False), (50, 14, 8, False), (50, 26, 8, False),
                                      (50, 26, 6, False), (50, 48, 2, False), (101, 26, 4, False),
                                      (50, 26, 4, True), (50, 14, 8, True), (50, 26, 8, True),
                                      (101, 26, 4, True)):
    register_variant(
        f'res2net{_depth}{"_v1b" if _v1b else ""}_{_width}w_{_scales}s', Res2Net,
        fixed=dict(depth=_depth, base_width=_width, scales=_scales, deep_stem=_v1b,
                   avg_down=_v1b),
        doc=f'Res2Net{"-v1b" if _v1b else ""}-{_depth} {_width}w{_scales}s '
        f'({"deep stem, AvgPool shortcuts" if _v1b else "plain stem"}).')
