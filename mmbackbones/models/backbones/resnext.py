"""ResNeXt (`Aggregated Residual Transformations <https://arxiv.org/abs/1611.05431>`_).

ResNeXt is the ResNet Bottleneck with a grouped 3x3 conv: no block of its own, only the
``groups``/``base_width`` settings of the shared Bottleneck and ResNet's stage builder, stem and
options. Module names are ResNet's, so mmdet, mmpretrain, torchvision and timm ResNeXt checkpoints
load through the ResNet layouts of :mod:`mmbackbones.checkpoint.layouts`.

mmdetection names the width per group ``base_width``, mmpretrain ``width_per_group``; both are
accepted, so a backbone dict from either library's configs builds unchanged. The defaults are
32x4d (mmpretrain's; mmdet's ``groups=1`` default would build a plain ResNet, and every mmdet
ResNeXt config sets ``groups`` and ``base_width`` explicitly).
"""
from __future__ import annotations

from ...registry import MODELS
from ..layers import DEFAULT_NORM_CFG
from ..variants import register_variant
from .resnet import ResNet


@MODELS.register_module()
class ResNeXt(ResNet):
    """ResNeXt backbone: ResNet-50/101/152 whose 3x3 convs have ``groups`` groups.

    The 3x3 conv of a stage whose ResNet width is ``planes`` has
    ``groups * base_width * planes // base_channels`` channels (``planes // base_channels`` is
    1, 2, 4, 8 for the four stages), e.g. 128, 256, 512, 1024 for 32x4d; the 1x1 reduce/expand
    convs are not grouped and the stage outputs keep ResNet's 256..2048 channels.

    Args:
        depth: 50, 101 or 152.
        groups: Groups of every 3x3 conv (the "cardinality", 32 in 32x4d).
        base_width: Width of one group in the first stage (4 in 32x4d); mmdet's name.
        width_per_group: mmpretrain's name for ``base_width``; give one of the two (or both,
            equal). Both are recorded (mmdet's ``base_width``, mmpretrain's ``width_per_group``).
        conv_cfg: Conv layer config (:class:`ResNet`'s).
        norm_cfg: Norm layer config (:class:`ResNet`'s).
        **kwargs: Every other :class:`ResNet` argument (``out_indices``, ``frozen_stages``,
            ``norm_eval``, ``deep_stem``, ``avg_down``, ``strides``, ``dilations``, ``style``,
            ``plugins``, ``dcn``, ``with_cp``, ``drop_path_rate``, ``init_cfg``, ...).

    Example:
        >>> import torch
        >>> from mmbackbones.models import ResNeXt
        >>> model = ResNeXt(depth=50, groups=32, base_width=4, out_indices=(3, )).eval()
        >>> [tuple(out.shape) for out in model(torch.rand(1, 3, 64, 64))]
        [(1, 2048, 2, 2)]
        >>> model.groups, model.base_width, model.width_per_group
        (32, 4, 4)
        >>> model.layer1[0].conv2
        Conv2d(128, 128, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=32, bias=False)
    """

    arch_settings = {depth: ResNet.arch_settings[depth] for depth in (50, 101, 152)}
    recorded_attributes = ('groups', 'base_width', 'width_per_group')

    def __init__(self,
                 depth: int,
                 *,
                 groups: int = 32,
                 base_width: int | None = None,
                 width_per_group: int | None = None,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 **kwargs) -> None:
        if base_width is None:
            base_width = 4 if width_per_group is None else width_per_group
        elif width_per_group is not None and width_per_group != base_width:
            raise ValueError(f'base_width={base_width!r} and width_per_group={width_per_group!r} '
                             'name the same setting (mmdet and mmpretrain spellings); give one, '
                             'or both equal.')
        super().__init__(depth=depth, groups=groups, base_width=base_width, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, **kwargs)
        self._record(groups=groups, base_width=base_width, width_per_group=base_width)


# Named variants: the widths of the ResNeXt paper, torchvision and mmpretrain.
for _depth, _groups, _width in ((50, 32, 4), (101, 32, 4), (101, 32, 8), (101, 64, 4),
                                (152, 32, 4)):
    register_variant(f'resnext{_depth}_{_groups}x{_width}d', ResNeXt,
                     fixed=dict(depth=_depth, groups=_groups, base_width=_width),
                     doc=f'ResNeXt-{_depth} {_groups}x{_width}d.')
