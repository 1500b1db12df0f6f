"""Feature Pyramid Network (`FPN <https://arxiv.org/abs/1612.03144>`_), mmdetection-compatible.

Arguments, module names (``lateral_convs.i.conv``, ``fpn_convs.i.conv``) and outputs are
mmdetection's ``FPN``, so detector checkpoints load as they are and give the same outputs.

Unlike mmdet's, ``in_channels`` may be left out: the FPN then reads them from the backbone, as
detectron2's FPN does. Detectors (mmdet's single/two-stage detectors, mmpretrain's classifiers,
any model that sets ``self.backbone`` before building its neck) build the backbone first; the FPN
finds that backbone on the constructor call stack (:func:`find_enclosing_backbone`, only when
``in_channels`` is None) and takes its ``out_channels`` and ``out_strides``. Typed ``in_channels``
are used as given, as in mmdet; a feature map whose channels disagree with them is a clear error
at the first forward. Outside a detector use :meth:`FPN.from_backbone`.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from ...registry import MODELS
from ..base_module import PretrainedInitModule
from ..layers import check_choice, check_int, check_layer_cfg

EXTRA_CONVS = (False, True, 'on_input', 'on_lateral', 'on_output')
#: ``F.interpolate`` modes for 4-D feature maps.
UPSAMPLE_MODES = ('nearest', 'nearest-exact', 'bilinear', 'bicubic', 'area')


def find_enclosing_backbone(max_depth: int = 64) -> nn.Module | None:
    """The backbone of the nearest model constructor on the call stack, if it built one.

    A detector's ``__init__`` does ``self.backbone = build(backbone)`` and then
    ``self.neck = build(neck)``; while the neck is being built, that ``__init__`` frame is on the
    stack with ``self.backbone`` already set.
    """
    frame = sys._getframe(1)
    for _ in range(max_depth):
        frame = frame.f_back
        if frame is None:
            return None
        if frame.f_code.co_name != '__init__':
            continue
        owner = frame.f_locals.get('self')
        backbone = getattr(owner, '_modules', {}).get('backbone') if owner is not None else None
        if isinstance(backbone, nn.Module):
            return backbone
    return None


def _published_outputs(backbone: nn.Module) -> tuple[list[int], list[int] | None] | None:
    channels = getattr(backbone, 'out_channels', None)
    if not isinstance(channels, (tuple, list)):
        return None  # e.g. mmdet's own ResNet publishes nothing
    strides = getattr(backbone, 'out_strides', None)
    return list(channels), (list(strides) if isinstance(strides, (tuple, list)) else None)


def check_upsample_cfg(upsample_cfg: dict) -> None:
    """``upsample_cfg`` is ``F.interpolate`` keyword arguments with a 4-D ``mode``; the top-down
    path computes ``size`` itself. Checked by interpolating a tiny map, so what ``F.interpolate``
    would reject at the first forward (``align_corners`` with ``'nearest'``, unknown keys) fails
    here, naming the argument."""
    if not isinstance(upsample_cfg, dict) or 'mode' not in upsample_cfg:
        raise TypeError(f'upsample_cfg must be a dict of F.interpolate arguments with a '
                        f"'mode', e.g. dict(mode='nearest'), got {upsample_cfg!r}.")
    check_choice("upsample_cfg['mode']", upsample_cfg['mode'], UPSAMPLE_MODES)
    if 'size' in upsample_cfg:
        raise ValueError(f'upsample_cfg={upsample_cfg!r}: size is taken from the finer level; '
                         'give scale_factor or nothing.')
    trial = {'size': (4, 4), **upsample_cfg}
    if 'scale_factor' in upsample_cfg:
        del trial['size']
    try:
        F.interpolate(torch.zeros(1, 1, 2, 2), **trial)
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as err:
        raise ValueError(f'upsample_cfg={upsample_cfg!r} is not accepted by F.interpolate: '
                         f'{err}') from None


@MODELS.register_module()
class FPN(PretrainedInitModule):
    """Feature pyramid: lateral 1x1 convs, top-down upsample-and-add, 3x3 output convs, extras.

    Args:
        in_channels: Channels of each backbone output. ``None`` reads them from the backbone
            (see the module docstring); typed values are used as given.
        out_channels: Channels of every pyramid level.
        num_outs: Number of pyramid levels returned.
        start_level: First backbone output used.
        end_level: Last backbone output used, **inclusive** (this is how mmdet's code treats it,
            although its docstring says exclusive); -1 means the last one. With ``end_level !=
            -1`` no extra levels are added, so ``num_outs`` must be ``end_level - start_level + 1``.
        add_extra_convs: How levels beyond the backbone's are made. ``False``: max pool (kernel
            1, stride 2) of the last output; ``'on_input'`` (or ``True``): a 3x3/2 conv on the
            last backbone input used; ``'on_lateral'``: on the last lateral; ``'on_output'``: on
            the last output. Further levels apply 3x3/2 convs to the previous level.
        relu_before_extra_convs: ReLU before every extra conv after the first.
        no_norm_on_lateral: No norm layer in the lateral convs.
        conv_cfg: Conv config.
        norm_cfg: Norm config (``None``: convs with bias).
        act_cfg: Activation config (``None``: none, as in mmdet).
        upsample_cfg: ``F.interpolate`` keyword arguments for the top-down path; without
            ``scale_factor`` the upsampled map takes the size of the finer level.
        init_cfg: Init config (Xavier uniform on convs, as mmdet).

    Example:
        >>> import torch
        >>> from mmbackbones.models import FPN, ResNet
        >>> backbone = ResNet(depth=18)
        >>> neck = FPN.from_backbone(backbone, out_channels=64, num_outs=5)
        >>> neck.in_channels, neck.out_strides
        ([64, 128, 256, 512], (4, 8, 16, 32, 64))
        >>> for out in neck(backbone(torch.rand(1, 3, 128, 128))):
        ...     print(tuple(out.shape))
        (1, 64, 32, 32)
        (1, 64, 16, 16)
        (1, 64, 8, 8)
        (1, 64, 4, 4)
        (1, 64, 2, 2)
    """

    # its own message says where None reads them from
    args_checked_in_init = ('in_channels', )

    def __init__(self,
                 in_channels: Sequence[int] | None = None,
                 out_channels: int = 256,
                 num_outs: int = 5,
                 *,
                 start_level: int = 0,
                 end_level: int = -1,
                 add_extra_convs: bool | str = False,
                 relu_before_extra_convs: bool = False,
                 no_norm_on_lateral: bool = False,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = None,
                 upsample_cfg: dict = dict(mode='nearest'),
                 init_cfg: dict | list | None = dict(type='Xavier', layer='Conv2d',
                                                     distribution='uniform')) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels, in_strides = self._resolve_in_channels(in_channels)
        num_ins = len(in_channels)
        check_int('out_channels', out_channels, 1)
        check_int('num_outs', num_outs, 1)
        check_int('start_level', start_level, 0, num_ins - 1)
        check_int('end_level', end_level, -1, num_ins - 1)
        check_choice('add_extra_convs', add_extra_convs, EXTRA_CONVS)
        for arg, cfg, kind in (('conv_cfg', conv_cfg, 'conv'), ('norm_cfg', norm_cfg, 'norm'),
                               ('act_cfg', act_cfg, 'activation')):
            check_layer_cfg(arg, cfg, kind)
        check_upsample_cfg(upsample_cfg)
        if end_level in (-1, num_ins - 1):
            backbone_end_level = num_ins
            if num_outs < num_ins - start_level:
                raise ValueError(f'num_outs={num_outs} is fewer than the {num_ins - start_level} '
                                 f'backbone levels used (start_level={start_level} of '
                                 f'in_channels={in_channels}); allowed: num_outs >= '
                                 f'{num_ins - start_level}.')
        else:
            backbone_end_level = end_level + 1
            if num_outs != end_level - start_level + 1:
                raise ValueError(f'num_outs={num_outs} with end_level={end_level} (inclusive) and '
                                 f'start_level={start_level}: no extra levels are added when '
                                 f'end_level is set, so num_outs must be '
                                 f'{end_level - start_level + 1}.')
        if add_extra_convs is True:
            add_extra_convs = 'on_input'

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = num_ins
        self.num_outs = num_outs
        self.start_level = start_level
        self.end_level = end_level
        self.backbone_end_level = backbone_end_level
        self.add_extra_convs = add_extra_convs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.no_norm_on_lateral = no_norm_on_lateral
        self.upsample_cfg = dict(upsample_cfg)

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, backbone_end_level):
            self.lateral_convs.append(ConvModule(
                in_channels[i], out_channels, 1, conv_cfg=conv_cfg,
                norm_cfg=None if no_norm_on_lateral else norm_cfg, act_cfg=act_cfg,
                inplace=False))
            self.fpn_convs.append(ConvModule(
                out_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                act_cfg=act_cfg, inplace=False))
        extra_levels = num_outs - backbone_end_level + start_level
        if add_extra_convs:
            for i in range(extra_levels):
                source = (in_channels[backbone_end_level - 1]
                          if i == 0 and add_extra_convs == 'on_input' else out_channels)
                self.fpn_convs.append(ConvModule(
                    source, out_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg, act_cfg=act_cfg, inplace=False))

        self.out_strides: tuple[int, ...] | None = None
        self._set_in_strides(in_strides)

    def _set_in_strides(self, in_strides: Sequence[int] | None) -> None:
        """Publish the stride of every output from the strides of the inputs, when known."""
        if in_strides is None:
            return
        used = list(in_strides[self.start_level:self.backbone_end_level])
        while len(used) < self.num_outs:
            used.append(used[-1] * 2)
        self.out_strides = tuple(used)

    @staticmethod
    def _resolve_in_channels(in_channels) -> tuple[list[int], list[int] | None]:
        """Typed ``in_channels`` as given (no strides known); ``None``: the enclosing backbone's
        channels and strides."""
        if in_channels is not None:
            if isinstance(in_channels, (str, bytes)) or not isinstance(in_channels, Sequence) or \
                    not in_channels or not all(isinstance(c, int) and not isinstance(c, bool)
                                               and c > 0 for c in in_channels):
                raise TypeError(f'in_channels must be None or a non-empty list of positive ints, '
                                f'got {in_channels!r}.')
            return list(in_channels), None
        backbone = find_enclosing_backbone()
        published = _published_outputs(backbone) if backbone is not None else None
        if published is None:
            raise ValueError(
                'in_channels=None: the FPN reads its input channels from an mmbackbones '
                'backbone built before it in the same model (a detector/classifier that sets '
                'self.backbone first), but none was found'
                + (f' ({type(backbone).__name__} publishes no out_channels)' if backbone
                   is not None else '')
                + '. Type in_channels=[...] or use FPN.from_backbone(backbone, ...).')
        return published

    @classmethod
    def from_backbone(cls, backbone: nn.Module, **kwargs) -> FPN:
        """Build an FPN whose ``in_channels`` (and strides) come from ``backbone``."""
        published = _published_outputs(backbone)
        if published is None:
            raise TypeError(f'{type(backbone).__name__} publishes no out_channels; build the FPN '
                            'with in_channels=[...] instead.')
        if 'in_channels' in kwargs:
            raise TypeError('FPN.from_backbone takes in_channels from the backbone; do not pass '
                            'them too.')
        neck = cls(in_channels=published[0], **kwargs)
        neck._set_in_strides(published[1])
        return neck

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != self.num_ins:
            raise ValueError(f'FPN got {len(inputs)} feature maps but was built for '
                             f'{self.num_ins} (in_channels={self.in_channels}).')
        got = [int(x.shape[1]) for x in inputs]
        if got != self.in_channels:
            raise ValueError(f'FPN got feature maps of {got} channels but was built for '
                             f'in_channels={self.in_channels}; type the backbone\'s out_channels '
                             'or leave in_channels=None inside a model to take them.')
        laterals = [conv(inputs[i + self.start_level])
                    for i, conv in enumerate(self.lateral_convs)]
        # top-down: coarse to fine
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                up = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                   **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + up
        outs = [self.fpn_convs[i](laterals[i]) for i in range(len(laterals))]
        if self.num_outs > len(outs):
            if not self.add_extra_convs:
                while len(outs) < self.num_outs:
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                source = {'on_input': inputs[self.backbone_end_level - 1],
                          'on_lateral': laterals[-1], 'on_output': outs[-1]}
                outs.append(self.fpn_convs[len(laterals)](source[self.add_extra_convs]))
                for i in range(len(laterals) + 1, self.num_outs):
                    x = F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]
                    outs.append(self.fpn_convs[i](x))
        return tuple(outs)
