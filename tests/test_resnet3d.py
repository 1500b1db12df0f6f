"""ResNet3d: exact sizes, configs, options and errors (foreign weights: test_foreign_weights.py)."""
import glob
import importlib.util
import os.path as osp

import pytest
import torch
from mmcv.cnn import NonLocal3d
from mmengine.config import Config

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import ResNet3d
from mmbackbones.registry import MODELS

from conftest import I3D_R50, R3D_18, has_module, n_params

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))




def clip(*shape, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# configs/resnet3d/metafile.yml
def test_i3d_r50_parameter_count():
    assert n_params(MODELS.build(I3D_R50)) == metadata('i3d_r50', 'Backbone Parameters')


def test_r3d_18_parameter_count_with_400_class_fc():
    model = MODELS.build(R3D_18)
    assert n_params(model) + model.feat_dim * 400 + 400 == metadata('r3d_18', 'Parameters')


def test_slowonly_r50_parameter_count():
    model = ResNet3d(depth=50, conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False)
    assert n_params(model) == metadata('slowonly_r50', 'Backbone Parameters')


CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/_base_/models/resnet3d*.py')) +
                 glob.glob(osp.join(ROOT, 'configs/resnet3d/*.py')))


@pytest.mark.parametrize('path', CONFIGS)
def test_configs_build(path):
    model = MODELS.build(Config.fromfile(path).model)
    name = osp.splitext(osp.basename(path))[0]
    assert n_params(model) == metadata(name, 'Backbone Parameters')


def test_tracking_config_is_bottleneck_2x2x2_to_conv4_with_frozen_early_stages():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/resnet3d/'
                                   'resnet3d_bottleneck-2x2x2_frozen1_tracking.py'))
    model = MODELS.build(cfg.model).train()
    assert model.block.__name__ == 'Bottleneck' and model.stage_blocks == (2, 2, 2)
    assert model.num_stages == 3 and not hasattr(model, 'layer4')
    assert model.output_shape() == [(1024, 16)]
    assert not model.layer1.training and model.layer2.training
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    with torch.no_grad():
        (out, ) = model.eval()(clip(1, 3, 4, 64, 64))
    assert out.shape == (1, 1024, 2, 4, 4)  # pool2 halves T after the first stage


def test_out_indices_is_always_a_tuple():
    model = ResNet3d(depth=18, base_channels=8, out_indices=3).eval()
    with torch.no_grad():
        outs = model(clip(1, 3, 4, 32, 32))
    assert isinstance(outs, tuple) and len(outs) == 1 and outs[0].shape == (1, 64, 2, 1, 1)


def test_temporal_geometry_and_published_temporal_strides():
    model = ResNet3d(depth=50, base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=2,
                     pool1_stride_t=2, temporal_strides=(1, 1, 2, 1), spatial_strides=(1, 2, 1, 2),
                     dilations=(1, 1, 2, 1), inflate_style='3x3x3').eval()
    assert model.stage_temporal_strides == (8, 8, 16, 16)
    assert model.out_strides == (4, 8, 8, 16)
    with torch.no_grad():
        outs = model(clip(1, 3, 32, 64, 64))
    assert [tuple(o.shape[2:]) for o in outs] == [(4, 16, 16), (4, 8, 8), (2, 8, 8), (2, 4, 4)]
    block = model.layer3[0]
    assert block.conv1.kernel_size == (1, 1, 1) and block.conv2.kernel_size == (3, 3, 3)
    assert block.conv2.stride == (2, 1, 1) and block.conv2.dilation == (1, 2, 2)
    assert block.downsample[0].stride == (2, 1, 1)


def test_inflate_pattern_and_styles():
    model = MODELS.build(I3D_R50)
    assert [b.conv1.kernel_size[0] for b in model.layer2] == [3, 1, 3, 1]
    assert all(b.conv2.kernel_size == (1, 3, 3) for b in model.layer2)
    assert model.conv1.kernel_size == (5, 7, 7) and model.conv1.stride == (2, 2, 2)
    basic = ResNet3d(depth=18, inflate=(1, (0, 1), 0, 0))
    assert [b.conv1.kernel_size for b in basic.layer2] == [(1, 3, 3), (3, 3, 3)]
    assert basic.layer1[0].conv2.kernel_size == (3, 3, 3)


def test_non_local_and_plugins():
    model = ResNet3d(depth=50, base_channels=8,
                     non_local=((0, 0, 0), (0, 1, 0, 1), 0, 0),
                     non_local_cfg=dict(sub_sample=True, mode='dot_product'),
                     plugins=[dict(cfg=dict(type=NonLocal3d), position='after_conv3',
                                   stages=(False, False, True, False))]).eval()
    assert model.layer2[1].plugin_names['after_block'] == ['non_local3d']
    assert model.layer2[0].plugin_names['after_block'] == []
    assert model.layer3[0].plugin_names['after_conv3'] == ['non_local3d']
    assert isinstance(model.layer2[1].non_local3d, NonLocal3d)
    with torch.no_grad():
        outs = model(clip(1, 3, 4, 32, 32))
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('kwargs,exc,match', [
    (dict(depth=26), KeyError, r'depth=26.*allowed: \[18, 34, 50, 101, 152\]'),
    (dict(depth=50, inflate=((1, 1), 1, 1, 1)), ValueError, r'inflate\[0\].*3 blocks'),
    (dict(depth=50, non_local=(0, 0, 0)), ValueError, r'non_local.*3 entries.*num_stages=4'),
    (dict(depth=50, inflate_style='3x3x1'), ValueError, r"inflate_style='3x3x1'.*'3x1x1'"),
    (dict(depth=50, temporal_strides=(1, 2)), ValueError, r'temporal_strides.*num_stages=4'),
    (dict(depth=50, act_cfg=dict(type='GELU')), ValueError, r"act_cfg=.*GELU.*ReLU"),
    (dict(depth=50, conv_cfg=None), TypeError, r'conv_cfg must be a dict'),
    (dict(depth=50, conv_cfg=dict(type='Conv2d')), ValueError, r'Conv2d.*3D conv'),
    (dict(depth=50, conv1_kernel=(7, 7)), ValueError, r'conv1_kernel=\(7, 7\)'),
    (dict(depth=18, groups=32), ValueError, r'groups=32.*Bottleneck'),
    (dict(depth=50, pretrained='x.pth', init_cfg=dict(type='Pretrained', checkpoint='y')),
     ValueError, r'pretrained=.*init_cfg'),
    (dict(depth=50, out_indices=(4, )), ValueError, r'out_indices=\(4,\).*-4\.\.3'),
])
def test_bad_configs_name_argument_value_and_allowed(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ResNet3d(**kwargs)


# ---------------------------------------------------------------- mmaction2 configs
@pytest.mark.skipif(not has_module('mmaction'), reason='mmaction2 is not installed '
                    '(bash tools/install.sh --with-mmaction)')
def test_mmaction2_i3d_configs_build_unchanged():
    """Every backbone dict of mmaction2's own I3D configs builds once its type names ours."""
    spec = importlib.util.find_spec('mmaction')
    cfg_dir = osp.join(spec.submodule_search_locations[0], '.mim', 'configs')
    paths = sorted(glob.glob(osp.join(cfg_dir, 'recognition', 'i3d', 'i3d_*.py')))
    assert paths, f'no I3D configs under {cfg_dir}'
    counts = {}
    for path in paths:
        backbone = Config.fromfile(path).model.backbone.to_dict()
        assert backbone.pop('type') == 'ResNet3d'
        counts[osp.basename(path)] = n_params(ResNet3d(**backbone))
    assert counts['i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py'] == \
        metadata('i3d_r50', 'Backbone Parameters')
    # configs/resnet3d/metafile.yml: 35.4M for NL, the model incl. the 819,600-parameter head
    head = metadata('i3d_r50', 'Parameters') - metadata('i3d_r50', 'Backbone Parameters')
    nl = counts['i3d_imagenet-pretrained-r50-nl-dot-product_8xb8-32x2x1-100e_kinetics400-rgb.py']
    assert head == 819_600
    assert round((nl + head) / 1e6, 1) == metadata('i3d_r50_nl_dot_product', 'Parameters') / 1e6
