"""ResNet family: exact sizes, options, plugins, dcn and config errors."""

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import ResNet, ResNet_CIFAR, ResNetV1c, ResNetV1d
from mmbackbones.models.layers import BasicBlock, Bottleneck
from mmbackbones.registry import MODELS

from conftest import (
    assert_context_block_runs,
    assert_drop_path_rises_to,
    context_block_plugins,
    mmcv_ops_available,
    n_params,
)


# configs/resnet/metafile.yml: torchvision num_params (with the 1000-class fc) and the analytic
# values for V1c/V1d; the fc adds feat_dim * 1000 + 1000.
@pytest.mark.parametrize('cls,depth,name', [
    (ResNet, 18, 'resnet18'),
    (ResNet, 34, 'resnet34'),
    (ResNet, 50, 'resnet50'),
    (ResNet, 101, 'resnet101'),
    (ResNet, 152, 'resnet152'),
    (ResNetV1c, 50, 'resnet50_v1c'),
    (ResNetV1d, 50, 'resnet50_v1d'),
    (ResNetV1c, 101, 'resnet101_v1c'),
    (ResNetV1d, 101, 'resnet101_v1d'),
    (ResNetV1c, 152, 'resnet152_v1c'),
    (ResNetV1d, 152, 'resnet152_v1d'),
])
def test_parameter_count_with_imagenet_fc(cls, depth, name):
    model = cls(depth=depth)
    assert n_params(model) + model.feat_dim * 1000 + 1000 == metadata(name, 'Parameters')


@pytest.mark.parametrize('depth', [18, 34, 50, 101, 152])
def test_backbone_only_parameter_count(depth):
    assert n_params(ResNet(depth=depth)) == metadata(f'resnet{depth}', 'Backbone Parameters')


def test_named_variants_equal_class_builds():
    a = MODELS.build(dict(type='resnet50_v1d', out_indices=(3, )))
    b = ResNetV1d(depth=50, out_indices=(3, ))
    assert type(a) is ResNetV1d and a.out_indices == (3, )
    assert list(a.state_dict()) == list(b.state_dict())


def test_module_names_follow_mmdet():
    keys = set(ResNet(depth=50).state_dict())
    assert {'conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer1.0.bn3.running_var',
            'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight',
            'layer4.2.conv3.weight'} <= keys
    keys = set(ResNetV1d(depth=50).state_dict())
    # deep stem Sequential; avg_down shortcut: AvgPool at 0 where the stage strides
    assert {'stem.0.weight', 'stem.1.weight', 'stem.3.weight', 'stem.6.weight', 'stem.7.weight',
            'layer1.0.downsample.0.weight', 'layer2.0.downsample.1.weight',
            'layer2.0.downsample.2.weight'} <= keys
    keys = set(ResNet(depth=18, norm_cfg=dict(type='GN', num_groups=8)).state_dict())
    assert 'gn1.weight' in keys and 'layer1.0.gn2.weight' in keys


def test_style_caffe_moves_the_stride_to_conv1():
    model = ResNet(depth=50, style='caffe')
    block = model.layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    block = ResNet(depth=50).layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)


def test_dilated_stages_keep_resolution():
    model = ResNet(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)).eval()
    assert model.out_strides == (4, 8, 8, 8)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]
    assert model.layer4[1].conv2.dilation == (4, 4)


def test_num_stages_and_custom_widths():
    model = ResNet(depth=18, num_stages=3, base_channels=32, stem_channels=16, in_channels=1)
    assert model.stage_channels == (32, 64, 128) and model.stage_strides == (4, 8, 16)
    assert model.out_indices == (0, 1, 2)
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 1, 32, 32))
    assert [o.shape[1] for o in outs] == [32, 64, 128]


def test_cifar_stem_keeps_32x32_resolution():
    model = ResNet_CIFAR(depth=18, out_indices=(3, )).eval()
    assert model.out_strides == (8, )
    with torch.no_grad():
        (out, ) = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 512, 4, 4)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)


def test_drop_path_rate_is_applied_and_rises_linearly():
    assert_drop_path_rises_to(ResNet(depth=18, drop_path_rate=0.3), 0.3, torch.rand(2, 3, 64, 64))


def test_zero_init_residual_and_default_init():
    model = ResNet(depth=50)
    model.init_weights()
    for block in (b for layer in model.stages() for b in layer):
        assert torch.count_nonzero(block.norm3.weight) == 0
        assert torch.all(block.norm1.weight == 1)
    model = ResNet(depth=18, zero_init_residual=False)
    model.init_weights()
    assert torch.all(model.layer1[0].norm2.weight == 1)


@pytest.mark.parametrize('position,block_cls', [('after_conv1', Bottleneck),
                                                ('after_conv2', Bottleneck),
                                                ('after_conv3', Bottleneck),
                                                ('after_conv1', BasicBlock),
                                                ('after_conv2', BasicBlock)])
def test_plugins_at_each_position(position, block_cls):
    depth = 50 if block_cls is Bottleneck else 18
    model = ResNet(depth=depth, plugins=context_block_plugins(position)).eval()
    block = model.layer2[0]
    assert isinstance(block, block_cls)
    channels = {'after_conv1': block.conv1.out_channels, 'after_conv2': block.conv2.out_channels,
                'after_conv3': getattr(block, 'conv3', block.conv2).out_channels}[position]
    assert_context_block_runs(model, block, position, channels)


def test_several_plugins_with_postfix_and_mmcv_attention_blocks():
    plugins = [
        dict(cfg=dict(type='GeneralizedAttention', spatial_range=-1, num_heads=8,
                      attention_type='0010', kv_stride=2), stages=(False, False, True, True),
             position='after_conv2'),
        dict(cfg=dict(type='NonLocal2d', postfix='1'), stages=(False, False, False, True),
             position='after_conv3'),
        dict(cfg=dict(type='NonLocal2d', postfix='2'), position='after_conv3'),
    ]
    model = ResNet(depth=50, plugins=plugins).eval()
    assert model.layer4[0].plugin_names['after_conv3'] == ['nonlocal_block1', 'nonlocal_block2']
    assert model.layer3[0].plugin_names['after_conv2'] == ['gen_attention_block']
    assert model.layer1[0].plugin_names['after_conv3'] == ['nonlocal_block2']
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert outs[-1].shape == (1, 2048, 2, 2)


def test_sync_bn_and_gn_build():
    model = ResNet(depth=18, norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert type(model.bn1).__name__ == 'SyncBatchNorm'
    model = ResNet(depth=50, norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)).eval()
    assert not any(isinstance(m, _BatchNorm) for m in model.modules())
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64))[-1].shape == (1, 2048, 2, 2)


def test_norm_requires_grad_false_is_honoured():
    model = ResNet(depth=18, norm_cfg=dict(type='BN', requires_grad=False))
    assert not model.bn1.weight.requires_grad and model.conv1.weight.requires_grad


def test_frozen_stages_survive_train_calls():
    model = ResNet(depth=18, frozen_stages=2)
    model.train()
    model.train()
    assert not model.layer2.training and model.layer3.training
    assert not any(p.requires_grad for p in model.layer2.parameters())


@pytest.mark.skipif(not mmcv_ops_available(), reason='needs full mmcv with compiled ops '
                    '(bash tools/build_mmcv.sh); mmcv-lite has no DCN')
def test_dcn_with_compiled_ops():
    model = ResNet(depth=50, dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
                   stage_with_dcn=(False, True, True, True)).eval()
    assert type(model.layer1[0].conv2).__name__ == 'Conv2d'
    assert type(model.layer2[0].conv2).__name__ == 'DeformConv2dPack'
    assert hasattr(model.layer2[0].conv2, 'conv_offset')
    with torch.no_grad():  # mmcv's CPU DCN needs maps at least as large as its 3x3 kernel
        assert model(torch.rand(1, 3, 96, 96))[-1].shape == (1, 2048, 3, 3)


@pytest.mark.parametrize('kwargs,exc,pattern', [
    (dict(depth=19), KeyError, r'depth=19 .*allowed: \[18, 34, 50, 101, 152\]'),
    (dict(depth=50, out_indices=(0, 4)), ValueError, r'out_indices=\(0, 4\) has 4, past the last'),
    (dict(depth=50, out_indices=(-5, )), ValueError, r'out_indices.*-4\.\.3'),
    (dict(depth=50, out_indices=(1, 1)), ValueError, 'names a stage twice'),
    (dict(depth=50, out_indices=('a', )), TypeError, 'out_indices entries must be ints'),
    (dict(depth=50, num_stages=3, out_indices=(3, )), ValueError, 'num_stages=3'),
    (dict(depth=50, frozen_stages=5), ValueError, r'frozen_stages=5 .*-1\.\.4'),
    (dict(depth=50, num_stages=2, frozen_stages=3), ValueError, r'frozen_stages=3 .*-1\.\.2'),
    (dict(depth=50, num_stages=5), ValueError, r'num_stages=5 .*1\.\.4'),
    (dict(depth=50, strides=(1, 2, 2)), ValueError, r'strides=\(1, 2, 2\) has 3 .*num_stages=4'),
    (dict(depth=50, dilations=(1, 1)), ValueError, r'dilations=\(1, 1\) has 2'),
    (dict(depth=50, num_stages=3, strides=(1, 2, 2, 2)), ValueError, 'num_stages=3'),
    (dict(depth=50, stage_with_dcn=(True, )), ValueError, 'stage_with_dcn'),
    (dict(depth=50, style='tf'), ValueError, r"style='tf' .*\['pytorch', 'caffe'\]"),
    (dict(depth=50, norm_cfg=dict(type='BatchNorm9d')), KeyError,
     r"norm_cfg=.*'BatchNorm9d' is not a registered norm layer; allowed: .*'BN'"),
    (dict(depth=50, norm_cfg=dict(type='Conv2d')), KeyError, 'not a registered norm layer'),
    (dict(depth=50, norm_cfg=None), TypeError, 'norm_cfg must be a dict'),
    (dict(depth=50, conv_cfg=dict(type='Conv9d')), KeyError, "conv_cfg=.*'Conv9d'"),
    (dict(depth=50, plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25),
                                  position='after_conv4')]), ValueError,
     r"plugins position='after_conv4' .*after_conv1"),
    (dict(depth=18, plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25),
                                  position='after_conv3')]), ValueError,
     r"BasicBlock.*'after_conv3'.*\['after_conv1', 'after_conv2'\]"),
    (dict(depth=50, plugins=[dict(cfg=dict(type='NoSuchPlugin'), position='after_conv3')]),
     KeyError, "'NoSuchPlugin' is not a registered plugin"),
    (dict(depth=50, plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25),
                                  position='after_conv3', stages=(True, ))]), ValueError,
     'plugins stages'),
    (dict(depth=50, plugins=dict(cfg=dict(type='ContextBlock'))), TypeError, 'plugins must be'),
    (dict(depth=50, drop_path_rate=1.5), ValueError, r'drop_path_rate=1.5 must be in \[0, 1\)'),
    (dict(depth=18, groups=32), ValueError, 'need a Bottleneck depth'),
    (dict(depth=50, dcn='DCN'), TypeError, 'dcn must be None or a dict'),
    (dict(depth=50, base_channels=0), ValueError, 'base_channels=0'),
    (dict(depth=50.0), TypeError, r'depth must be an int, got 50.0'),
])
def test_bad_configs_name_argument_value_and_allowed(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MODELS.build(dict(type='ResNet', **kwargs))


def test_variant_rejects_conflicting_fixed_argument():
    with pytest.raises(ValueError, match='ResNetV1d always uses avg_down=True'):
        ResNetV1d(depth=50, avg_down=False)
    assert ResNetV1d(depth=50, deep_stem=True).deep_stem  # same value is fine
    with pytest.raises(ValueError, match='deep_stem=True is not supported by ResNet_CIFAR'):
        ResNet_CIFAR(depth=18, deep_stem=True)
