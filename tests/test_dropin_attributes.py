"""Drop-in attributes: every public attribute of mmdet's, mmpretrain's and mmaction2's backbone
classes exists on ours with the same value for the same constructor arguments, read-only.

Each case builds their class and ours with the same arguments and compares every entry of their
``vars()`` that is not a module and not private. Two are left out, by design: ``training``
(``nn.Module``'s mode) and ``init_cfg`` (the random-init recipe, which differs in spelling:
mmpretrain lists ``layer=['Conv2d']``, its Res2Net and mmaction2 have ``None``, ours are
:func:`~mmbackbones.models.backbones.base.default_init_cfg`). Arguments whose defaults differ
between the libraries (``out_indices``, mmdet's ``norm_eval=True``) are given explicitly.
"""
from __future__ import annotations

import pytest
import torch.nn as nn

from mmbackbones.models import (
    VGG,
    GoogLeNet,
    Res2Net,
    ResNet,
    ResNet3d,
    ResNetV1c,
    ResNetV1d,
    ResNeXt,
)
from mmbackbones.models.backbones.resnet3d import BLOCKS_3D

from conftest import (
    SMALL_CLASS_ARGS,
    build_backbone,
    mmaction_resnet3d_module,
    mmcv_ops_available,
    requires_mmdet,
    why_no_tier,
)

#: Attributes of theirs that are not compared (see the module docstring).
NOT_COMPARED = ('training', 'init_cfg')
DCN = dict(type='DCN', deform_groups=1, fallback_on_stride=False)
GN = dict(type='GN', num_groups=16, requires_grad=True)
CONTEXT = [dict(cfg=dict(type='ContextBlock', ratio=1. / 4), stages=(False, True, True, True),
                position='after_conv3')]
MMACTION = why_no_tier('mmaction')
requires_mmaction = pytest.mark.skipif(MMACTION is not None, reason=str(MMACTION))


def public_attributes(model: nn.Module) -> dict:
    return {k: v for k, v in vars(model).items()
            if not k.startswith('_') and not isinstance(v, nn.Module) and k not in NOT_COMPARED}


def assert_same_attributes(theirs: nn.Module, ours: nn.Module) -> None:
    """Every public attribute of ``theirs`` is on ``ours`` with an equal value of the same type
    (a list is not a tuple: ``res_layers == ['layer1', ...]`` must stay true); block classes are
    compared by name (theirs are their own classes)."""
    expected = public_attributes(theirs)
    assert expected, f'{type(theirs).__name__} has no public attributes to compare'
    missing = sorted(name for name in expected if not hasattr(ours, name))
    assert not missing, f'{type(ours).__name__} lacks {missing}'
    for name, value in expected.items():
        mine = getattr(ours, name)
        if isinstance(value, type):
            assert isinstance(mine, type) and mine.__name__ == value.__name__, \
                f'{name}: ours {mine!r}, theirs {value!r}'
        else:
            assert type(mine) is type(value) and mine == value, \
                f'{name}: ours {mine!r}, theirs {value!r}'


def both(their_cls: type, our_cls: type, **kwargs) -> tuple[nn.Module, nn.Module]:
    return their_cls(**kwargs), our_cls(**kwargs)


# ------------------------------------------------------------------ mmdetection
#: mmdet's ResNet argument sets; ``norm_eval`` is given because mmdet's default is True.
MMDET_RESNET = [
    dict(depth=18, norm_eval=True),
    dict(depth=50, norm_eval=False, out_indices=(1, 3)),
    dict(depth=50, deep_stem=True, avg_down=True, norm_eval=True),
    dict(depth=18, stem_channels=32, base_channels=32, norm_eval=True, style='caffe'),
    dict(depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), norm_eval=True),
    dict(depth=50, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 2),
         stage_with_dcn=(False, False, False), out_indices=(0, 1, 2), norm_eval=True),
    dict(depth=50, plugins=CONTEXT, norm_eval=True),
    dict(depth=50, frozen_stages=2, with_cp=True, zero_init_residual=False, norm_eval=True),
    dict(depth=50, norm_cfg=GN, norm_eval=False),
    dict(depth=50, dcn=DCN, stage_with_dcn=(False, True, True, True), norm_eval=True),
]


def _ids(cases: list[dict]) -> list[str]:
    return ['-'.join(f'{k}={v}' for k, v in case.items() if k not in ('norm_eval', ))[:60]
            for case in cases]


@requires_mmdet
@pytest.mark.parametrize('kwargs', MMDET_RESNET, ids=_ids(MMDET_RESNET))
def test_mmdet_resnet_attributes(kwargs):
    from mmdet.models.backbones import ResNet as TheirResNet  # optional: the mmdet tier
    assert_same_attributes(*both(TheirResNet, ResNet, **kwargs))


@requires_mmdet
@pytest.mark.parametrize('kwargs', [dict(depth=50, norm_eval=True),
                                    dict(depth=101, frozen_stages=1, norm_eval=False)])
def test_mmdet_resnet_v1d_attributes(kwargs):
    from mmdet.models.backbones import ResNetV1d as TheirResNetV1d  # optional: the mmdet tier
    assert_same_attributes(*both(TheirResNetV1d, ResNetV1d, **kwargs))


@requires_mmdet
@pytest.mark.parametrize('kwargs', [
    dict(depth=50, groups=32, base_width=4, norm_eval=True),
    dict(depth=50, groups=8, base_width=8, deep_stem=True, avg_down=True, norm_cfg=GN,
         norm_eval=False),
    dict(depth=50, groups=32, base_width=4, dcn=DCN, stage_with_dcn=(False, False, True, True),
         plugins=CONTEXT, norm_eval=True),
])
def test_mmdet_resnext_attributes(kwargs):
    from mmdet.models.backbones import ResNeXt as TheirResNeXt  # optional: the mmdet tier
    assert_same_attributes(*both(TheirResNeXt, ResNeXt, **kwargs))


@requires_mmdet
@pytest.mark.parametrize('kwargs', [
    dict(depth=50, norm_eval=True),
    dict(depth=50, scales=8, base_width=14, frozen_stages=1, norm_eval=False),
    dict(depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2), norm_eval=True),
    dict(depth=50, dcn=DCN, stage_with_dcn=(False, True, True, True), plugins=CONTEXT,
         norm_eval=True),
])
def test_mmdet_res2net_attributes(kwargs):
    from mmdet.models.backbones import Res2Net as TheirRes2Net  # optional: the mmdet tier
    assert_same_attributes(*both(TheirRes2Net, Res2Net, **kwargs))


# ------------------------------------------------------------------ mmpretrain (basic tier)
@pytest.mark.parametrize('kwargs', [
    dict(depth=18, out_indices=(3, )),
    dict(depth=50, out_indices=(0, 1, 2, 3), deep_stem=True, avg_down=True),
    dict(depth=34, num_stages=3, strides=(1, 2, 1), dilations=(1, 1, 2), out_indices=(2, )),
    dict(depth=50, frozen_stages=3, norm_eval=True, with_cp=True, out_indices=(3, )),
    dict(depth=50, norm_cfg=GN, style='caffe', zero_init_residual=False, out_indices=(3, )),
])
def test_mmpretrain_resnet_attributes(kwargs):
    from mmpretrain.models.backbones import ResNet as TheirResNet
    assert_same_attributes(*both(TheirResNet, ResNet, **kwargs))


@pytest.mark.parametrize('name,ours', [('ResNetV1c', ResNetV1c), ('ResNetV1d', ResNetV1d)])
def test_mmpretrain_resnet_v1c_v1d_attributes(name, ours):
    import mmpretrain.models.backbones as theirs
    assert_same_attributes(*both(getattr(theirs, name), ours, depth=50, out_indices=(3, )))


@pytest.mark.parametrize('kwargs', [
    dict(depth=50, out_indices=(3, )),
    dict(depth=101, groups=64, width_per_group=4, frozen_stages=1, out_indices=(2, 3)),
])
def test_mmpretrain_resnext_attributes(kwargs):
    from mmpretrain.models.backbones import ResNeXt as TheirResNeXt
    assert_same_attributes(*both(TheirResNeXt, ResNeXt, **kwargs))


@pytest.mark.parametrize('kwargs', [
    dict(depth=50, out_indices=(3, )),
    dict(depth=50, scales=8, base_width=14, deep_stem=False, avg_down=False,
         out_indices=(0, 1, 2, 3)),
])
def test_mmpretrain_res2net_attributes(kwargs):
    from mmpretrain.models.backbones import Res2Net as TheirRes2Net
    assert_same_attributes(*both(TheirRes2Net, Res2Net, **kwargs))


@pytest.mark.parametrize('kwargs', [
    dict(depth=11, out_indices=(4, )),
    dict(depth=16, num_classes=10, norm_cfg=dict(type='BN'), out_indices=(3, 5)),
    dict(depth=13, num_stages=3, dilations=(1, 1, 2), frozen_stages=2, out_indices=(2, )),
    dict(depth=19, with_last_pool=False, ceil_mode=True, out_indices=(0, 4)),
])
def test_mmpretrain_vgg_attributes(kwargs):
    from mmpretrain.models.backbones import VGG as TheirVGG
    assert_same_attributes(*both(TheirVGG, VGG, **kwargs))


# ------------------------------------------------------------------ mmaction2
@requires_mmaction
@pytest.mark.parametrize('kwargs', [
    dict(depth=50, out_indices=(3, )),
    dict(depth=50, conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
         inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)), zero_init_residual=False,
         out_indices=(0, 1, 2, 3), pretrained2d=True, pretrained='torchvision://resnet50'),
    dict(depth=18, conv1_kernel=(3, 7, 7), with_pool1=False, with_pool2=False,
         temporal_strides=(1, 2, 2, 2), inflate=(1, 1, 1, 1), out_indices=(3, )),
    dict(depth=50, num_stages=3, stage_blocks=(2, 2, 2), spatial_strides=(1, 2, 2),
         temporal_strides=(1, 1, 1), dilations=(1, 1, 1), inflate=(1, 1, 1), non_local=(0, 0, 0),
         frozen_stages=1, inflate_style='3x3x3', style='caffe', out_indices=(2, )),
    dict(depth=50, non_local=((0, 0, 0), (0, 1, 0, 1), (0, 1, 0, 1, 0, 1), (0, 0, 0)),
         non_local_cfg=dict(sub_sample=True, use_scale=False, mode='embedded_gaussian',
                            norm_cfg=dict(type='BN3d', requires_grad=True)),
         with_cp=True, norm_eval=True, out_indices=(3, )),
])
def test_mmaction2_resnet3d_attributes(kwargs):
    theirs = mmaction_resnet3d_module().ResNet3d(**kwargs)
    ours = ResNet3d(**kwargs)
    # mmaction2's ``block`` is its 3D block; ours is the 2D block the network inflates, whose
    # 3D block (the one in ours' stages) has mmaction2's class name
    assert BLOCKS_3D[ours.block].__name__ == theirs.block.__name__
    assert all(type(b) is BLOCKS_3D[ours.block] for layer in ours.stages() for b in layer)
    del theirs.block
    assert_same_attributes(theirs, ours)


# ------------------------------------------------------------------ ours, every family
@pytest.mark.parametrize('name', sorted(SMALL_CLASS_ARGS))
def test_recorded_attributes_are_all_written_and_read_only(name):
    model = build_backbone(name)
    names = type(model).recorded_names()
    assert {'stage_channels', 'out_indices', 'frozen_stages', 'norm_eval'} <= set(names)
    for attr in names:
        value = getattr(model, attr)  # recorded by the constructor
        with pytest.raises(AttributeError, match=rf'{attr} is read-only'):
            setattr(model, attr, value)
        with pytest.raises(AttributeError, match=rf'{attr} is read-only'):
            delattr(model, attr)
        assert getattr(model, attr) == value


def test_recorded_dicts_and_lists_are_copies():
    plugins = list(CONTEXT)
    norm_cfg = dict(type='BN', requires_grad=True)
    model = ResNet(depth=50, base_channels=16, norm_cfg=norm_cfg, plugins=plugins)
    norm_cfg['type'] = 'GN'  # the caller's dict changes later: the record does not
    model.norm_cfg['type'] = 'SyncBN'  # nor through what it returns
    model.res_layers.append('layer5')
    model.plugins.clear()
    assert model.norm_cfg == dict(type='BN', requires_grad=True)
    assert model.res_layers == ['layer1', 'layer2', 'layer3', 'layer4']
    assert model.plugins == CONTEXT


def test_stage_with_dcn_says_where_dcn_applies():
    assert ResNet(depth=50, base_channels=16).stage_with_dcn == (False, ) * 4
    given = (False, True, False, True)
    assert ResNet(depth=50, base_channels=16, stage_with_dcn=given).stage_with_dcn == given
    if mmcv_ops_available():  # our default applies dcn to every stage (mmdet's: to none)
        model = ResNet(depth=50, base_channels=16, dcn=DCN)
        assert model.stage_with_dcn == (True, ) * 4 and model.layer1[0].with_dcn


def test_stem_channels_as_mmdet_tests_read_them():
    # mmdet's stem tests: the deep stem is half, half, stem_channels wide; layer1 reads them
    model = ResNetV1d(depth=50, stem_channels=64, base_channels=16)
    assert model.stem_channels == 64 and model.base_channels == 16
    assert [model.stem[i].out_channels for i in (0, 3, 6)] == [32, 32, model.stem_channels]
    assert model.layer1[0].conv1.in_channels == model.stem_channels
    plain = ResNet(depth=18, base_channels=32)
    assert plain.stem_channels == plain.conv1.out_channels == 32  # None: base_channels


def test_vgg_in_channels_is_mmpretrain_s_last_stage_width():
    model = VGG(depth=11, num_stages=3, in_channels=1)
    assert model.features[0].conv.in_channels == 1
    assert model.in_channels == model.stage_channels[-1] == 256


def test_resnet3d_twin_is_built_from_the_constructor_arguments():
    model = ResNet3d(depth=18, base_channels=8, num_stages=3, in_channels=2, style='caffe',
                     norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    twin = model.twin_2d()
    assert isinstance(twin, ResNet) and not isinstance(twin, ResNet3d)
    assert (twin.depth, twin.base_channels, twin.num_stages, twin.style) == (18, 8, 3, 'caffe')
    assert twin.conv1.in_channels == 2 and twin.norm_cfg == model.norm_cfg
    assert ResNet3d(depth=18, base_channels=8).twin_2d().norm_cfg['type'] == 'BN'


def test_googlenet_records_its_classifier():
    model = GoogLeNet(num_classes=10, aux_logits=True)
    assert (model.num_classes, model.aux_logits) == (10, True)
