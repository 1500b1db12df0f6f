"""ResNeXt: exact sizes, the grouped 3x3 only, both libraries' configs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import ResNeXt
from mmbackbones.models.layers import Bottleneck
from mmbackbones.registry import MODELS

from conftest import (
    MODEL_CONFIGS,
    n_params,
)


# configs/resnext/metafile.yml: torchvision num_params / the analytic values, with the
# 1000-class fc (2048 * 1000 + 1000); for 152-32x4d only mmpretrain's rounded `59950000`.
# Built from our configs/_base_/models files, so the shipped configs are checked too.
@pytest.mark.parametrize('config,arch,exact', [
    ('resnext50_32x4d', (50, 32, 4), True),
    ('resnext101_32x4d', (101, 32, 4), True),
    ('resnext101_32x8d', (101, 32, 8), True),
    ('resnext101_64x4d', (101, 64, 4), True),
    ('resnext152_32x4d', (152, 32, 4), False),
])
def test_base_config_builds_with_published_parameter_count(config, arch, exact):
    expected = metadata(config, 'Parameters')
    cfg = Config.fromfile(osp.join(MODEL_CONFIGS, f'{config}.py'))
    assert cfg.model.backbone.type == 'mmbackbones.ResNeXt'
    assert cfg.model.head.in_channels == 2048
    model = MODELS.build(cfg.model.backbone)
    assert isinstance(model, ResNeXt) and (model.depth, model.groups, model.base_width) == arch
    assert model.out_indices == (3, ) and model.feat_dim == 2048
    total = n_params(model) + model.feat_dim * 1000 + 1000
    assert (total if exact else round(total / 1e4) * 10_000) == expected


def test_only_the_3x3_conv_is_grouped():
    model = ResNeXt(depth=50, groups=32, base_width=4)
    for i, width in enumerate((128, 256, 512, 1024)):
        block = getattr(model, f'layer{i + 1}')[1]
        assert isinstance(block, Bottleneck)
        assert block.conv2.groups == 32 and block.conv2.in_channels == width
        assert block.conv1.groups == 1 and block.conv3.groups == 1
        assert block.conv1.out_channels == width and block.conv3.in_channels == width
        assert block.conv3.out_channels == 256 * 2**i
    assert model.stage_channels == (256, 512, 1024, 2048)
    wide = ResNeXt(depth=50, groups=64, base_width=4)
    assert wide.layer4[0].conv2.in_channels == 2048 and wide.layer4[0].conv2.groups == 64


def test_custom_groups_and_width():
    model = ResNeXt(depth=50, groups=8, base_width=12, base_channels=32, num_stages=3).eval()
    # width = groups * base_width * planes // base_channels = 96, 192, 384
    assert [getattr(model, f'layer{i}')[0].conv2.out_channels for i in (1, 2, 3)] == [96, 192, 384]
    assert model.stage_channels == (128, 256, 512)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(128, 16, 16), (256, 8, 8), (512, 4, 4)]


def test_width_per_group_is_mmpretrains_name_for_base_width():
    a = ResNeXt(depth=50, groups=32, width_per_group=8)
    b = ResNeXt(depth=50, groups=32, base_width=8)
    assert a.base_width == b.base_width == 8
    assert a.layer1[0].conv2.out_channels == b.layer1[0].conv2.out_channels == 256
    assert ResNeXt(depth=50, base_width=8, width_per_group=8).base_width == 8
    with pytest.raises(ValueError, match='base_width=4 and width_per_group=8 name the same'):
        ResNeXt(depth=50, base_width=4, width_per_group=8)


def test_defaults_are_32x4d():
    model = ResNeXt(depth=50)
    assert (model.groups, model.base_width) == (32, 4)
    assert list(model.state_dict()) == list(MODELS.build(dict(type='resnext50_32x4d'))
                                            .state_dict())


@pytest.mark.parametrize('backbone', [
    # mmpretrain configs/_base_/models/resnext101_32x8d.py
    dict(type='ResNeXt', depth=101, num_stages=4, out_indices=(3, ), groups=32,
         width_per_group=8, style='pytorch'),
    # mmdet configs/resnext/faster-rcnn_x101-64x4d_fpn_1x_coco.py (merged with its _base_)
    dict(type='ResNeXt', depth=101, groups=64, base_width=4, num_stages=4,
         out_indices=(0, 1, 2, 3), frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True),
         norm_eval=True, style='pytorch'),
])
def test_other_libraries_configs_build_unchanged(backbone):
    model = MODELS.build(dict(backbone))
    assert isinstance(model, ResNeXt)
    width = backbone.get('width_per_group', backbone.get('base_width'))
    assert model.layer1[0].conv2.out_channels == backbone['groups'] * width
    assert model.out_indices == tuple(backbone['out_indices'])


def test_resnet_options_work_together():
    plugins = [dict(cfg=dict(type='ContextBlock', ratio=1. / 4), position='after_conv2',
                    stages=(False, True, False, False))]
    model = ResNeXt(depth=50, deep_stem=True, avg_down=True, strides=(1, 2, 2, 1),
                    dilations=(1, 1, 1, 2), out_indices=(3, 1), frozen_stages=2, norm_eval=True,
                    plugins=plugins, style='caffe').train()
    assert model.out_strides == (16, 8) and model.out_channels == (2048, 512)
    keys = set(model.state_dict())
    assert {'stem.0.weight', 'stem.7.running_var', 'layer2.0.downsample.2.weight',
            'layer2.0.context_block.conv_mask.weight'} <= keys
    assert 'layer1.0.context_block.conv_mask.weight' not in keys
    assert model.layer2[0].conv1.stride == (2, 2)  # caffe: stride on the 1x1
    assert model.layer4[1].conv2.dilation == (2, 2) and model.layer4[0].conv2.groups == 32
    assert not model.layer2.training and model.layer3.training
    assert model.layer2[0].context_block.in_channels == 256
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 2048, 4, 4), (1, 512, 8, 8)]


@pytest.mark.parametrize('kwargs,exc,pattern', [
    (dict(depth=18), KeyError, r'depth=18 is not supported by ResNeXt; allowed: \[50, 101, 152\]'),
    (dict(depth=50, groups=0), ValueError, 'groups=0 is out of range'),
    (dict(depth=50, base_width=2.5), TypeError, 'base_width must be an int'),
    (dict(depth=50, groups=32, width_per_group=0), ValueError, 'base_width=0 is out of range'),
])
def test_bad_configs_name_argument_value_and_allowed(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MODELS.build(dict(type='ResNeXt', **kwargs))
