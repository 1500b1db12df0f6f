"""Res2Net: exact sizes, the hierarchical block, stride-1 pooling, stems, options."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch.utils._python_dispatch import TorchDispatchMode

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import Bottle2neck, Res2Net
from mmbackbones.models.layers import Bottleneck
from mmbackbones.registry import MODELS

from conftest import (
    MODEL_CONFIGS,
    assert_context_block_runs,
    assert_drop_path_rises_to,
    context_block_plugins,
    mmcv_ops_available,
    n_params,
    randomize,
    seeded_input,
)

X = seeded_input(2, 3, 96, 96)


# configs/res2net/metafile.yml, analytic values with the 1000-class fc (they match the
# official repository's 25.70/25.06/48.40/45.21/25.72/45.23M). Built from our
# configs/_base_/models files where we ship one, so the configs are checked too.
@pytest.mark.parametrize('config,arch', [
    ('res2net50-w14-s8', (50, 14, 8, False)),
    ('res2net50-w26-s4', (50, 26, 4, False)),
    ('res2net50-w26-s8', (50, 26, 8, False)),
    ('res2net101-w26-s4', (101, 26, 4, False)),
    ('res2net50-v1b-w26-s4', (50, 26, 4, True)),
    ('res2net101-v1b-w26-s4', (101, 26, 4, True)),
    (None, (50, 14, 8, True)),
    (None, (50, 26, 8, True)),
])
def test_parameter_count_with_imagenet_fc(config, arch):
    depth, width, scales, v1b = arch
    expected = metadata(f'res2net{depth}{"_v1b" if v1b else ""}_{width}w_{scales}s', 'Parameters')
    if config is None:
        model = Res2Net(depth=depth, base_width=width, scales=scales, deep_stem=v1b, avg_down=v1b)
    else:
        cfg = Config.fromfile(osp.join(MODEL_CONFIGS, f'{config}.py'))
        assert cfg.model.backbone.type == 'mmbackbones.Res2Net'
        model = MODELS.build(cfg.model.backbone)
        assert model.stride1_pool and model.out_indices == (3, )
    assert (model.depth, model.base_width, model.scales, model.deep_stem) == arch
    assert model.avg_down == v1b
    assert n_params(model) + model.feat_dim * 1000 + 1000 == expected


@pytest.mark.parametrize('config,scales,width', [('res2net50-w26-s6', 6, 26),
                                                 ('res2net50-w48-s2', 2, 48)])
def test_other_base_configs_build(config, scales, width):
    cfg = Config.fromfile(osp.join(MODEL_CONFIGS, f'{config}.py'))
    model = MODELS.build(cfg.model.backbone)
    assert len(model.layer1[0].convs) == scales - 1 and model.layer1[0].width == width
    assert model.out_channels == (cfg.model.head.in_channels, )


@pytest.mark.parametrize('name', ['res2net50_26w_4s', 'res2net50_v1b_26w_4s'])
def test_named_variants(name):
    model = MODELS.build(dict(type=name, out_indices=(3, )))
    assert isinstance(model, Res2Net) and model.out_indices == (3, )
    assert n_params(model) + 2048 * 1000 + 1000 == metadata(name, 'Parameters')


def test_block_layout_and_module_names():
    model = Res2Net(depth=50, scales=4, base_width=26)
    for i, width in enumerate((26, 52, 104, 208)):
        block = getattr(model, f'layer{i + 1}')[1]
        assert isinstance(block, Bottle2neck) and isinstance(block, Bottleneck)
        assert block.width == width and block.conv1.out_channels == 4 * width
        assert len(block.convs) == len(block.bns) == 3
        assert all(c.in_channels == c.out_channels == width for c in block.convs)
        assert block.conv3.in_channels == 4 * width and block.conv3.out_channels == 256 * 2**i
        assert not hasattr(block, 'conv2') and not hasattr(block, 'bn2')
    keys = set(model.state_dict())
    # mmdet/mmpretrain names: convs.{i}, bns.{i}; deep stem Sequential; avg-down shortcut
    assert {'stem.0.weight', 'stem.7.weight', 'layer1.0.conv1.weight', 'layer1.0.bn1.weight',
            'layer1.0.convs.2.weight', 'layer1.0.bns.2.running_mean', 'layer1.0.conv3.weight',
            'layer1.0.bn3.weight', 'layer1.0.downsample.0.weight',
            'layer2.0.downsample.1.weight', 'layer2.0.downsample.2.weight'} <= keys


def test_first_block_of_each_stage_is_the_stage_block():
    model = Res2Net(depth=50)
    for layer in model.stages():
        assert [b.stage_type for b in layer] == ['stage'] + ['normal'] * (len(layer) - 1)
        assert layer.block is Bottle2neck
    # also where the first block neither strides nor projects (original code: stype='stage')
    model = Res2Net(depth=50, stem_channels=256, deep_stem=False, num_stages=1)
    assert model.layer1[0].downsample is None and model.layer1[0].stage_type == 'stage'


def reference_block(block, x):
    """The Res2Net block written from the paper/issue text, step by step (no views tricks)."""
    out = block.relu(block.bn1(block.conv1(x)))
    s, w = block.scales, block.width
    parts = [out[:, i * w:(i + 1) * w] for i in range(s)]
    ys = []
    for i in range(s - 1):
        inp = parts[i] if i == 0 or block.stage_type == 'stage' else parts[i] + ys[-1]
        ys.append(block.relu(block.bns[i](block.convs[i](inp))))
    last = parts[-1]
    if block.stage_type == 'stage' and (block.conv2_stride > 1 or block.pool is not None):
        last = torch.nn.functional.avg_pool2d(last, 3, block.conv2_stride, 1)
    y = block.bn3(block.conv3(torch.cat(ys + [last], 1)))
    identity = x if block.downsample is None else block.downsample(x)
    return block.relu(y + identity)


@pytest.mark.parametrize('stage_type,stride,stride1_pool', [
    ('normal', 1, False), ('stage', 1, False), ('stage', 1, True), ('stage', 2, False),
])
def test_block_matches_the_hierarchical_definition(stage_type, stride, stride1_pool):
    torch.manual_seed(0)
    down = torch.nn.Sequential(torch.nn.Conv2d(64, 256, 1, stride=stride, bias=False),
                               torch.nn.BatchNorm2d(256))
    block = Bottle2neck(64, 64, scales=4, base_width=26, stage_type=stage_type, stride=stride,
                        stride1_pool=stride1_pool,
                        downsample=down if stage_type == 'stage' else None)
    randomize(block).eval()
    assert (block.pool is not None) == (stage_type == 'stage' and (stride > 1 or stride1_pool))
    x = torch.randn(2, 64 if stage_type == 'stage' else 256, 12, 12)
    if stage_type == 'normal':
        block = Bottle2neck(256, 64, scales=4, base_width=26)
        randomize(block).eval()
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference_block(block, x))


class _CountOps(TorchDispatchMode):

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('stage_type', ['normal', 'stage'])
def test_block_concatenates_once_and_never_copies_splits(stage_type):
    block = Bottle2neck(256, 64, scales=8, base_width=26, stage_type=stage_type).eval()
    counter = _CountOps()
    with torch.no_grad(), counter:
        block(torch.randn(2, 256, 8, 8))
    assert counter.ops.count('cat') == 1
    assert not {'clone', 'contiguous', 'copy_', '_to_copy'} & set(counter.ops), counter.ops
    assert counter.ops.count('convolution') == 2 + 7


def test_stride1_pool_changes_only_the_first_stage_block():
    a = randomize(Res2Net(depth=50, num_stages=2)).eval()
    b = Res2Net(depth=50, num_stages=2, stride1_pool=True).eval()
    b.load_state_dict(a.state_dict())  # no parameters added
    assert a.layer1[0].pool is None and b.layer1[0].pool is not None
    assert a.layer2[0].pool is not None and b.layer2[0].pool is not None
    assert all(blk.pool is None for m in (a, b) for layer in m.stages() for blk in list(layer)[1:])
    with torch.no_grad():
        out_a, out_b = a(X), b(X)
    assert not torch.allclose(out_a[0], out_b[0])
    assert b.layer1[0].pool.stride == 1 and b.layer1[0].pool.kernel_size == 3


def test_deep_stem_and_avg_down_are_honoured():
    v1b = Res2Net(depth=50)
    assert v1b.deep_stem and v1b.avg_down and hasattr(v1b, 'stem')
    assert type(v1b.layer2[0].downsample[0]).__name__ == 'AvgPool2d'
    original = Res2Net(depth=50, deep_stem=False, avg_down=False)
    assert not hasattr(original, 'stem') and original.conv1.kernel_size == (7, 7)
    assert original.layer2[0].downsample[0].stride == (2, 2)
    only_avg_down = Res2Net(depth=50, deep_stem=False, avg_down=True)
    assert hasattr(only_avg_down, 'conv1')
    assert type(only_avg_down.layer2[0].downsample[0]).__name__ == 'AvgPool2d'


@pytest.mark.parametrize('backbone,v1b', [
    # mmpretrain configs/_base_/models/res2net50-w14-s8.py
    (dict(type='Res2Net', depth=50, scales=8, base_width=14, deep_stem=False, avg_down=False),
     False),
    # mmdet configs/res2net/faster-rcnn_res2net-101_fpn_2x_coco.py merged with its _base_: mmdet
    # always builds v1b, so the config does not say so.
    (dict(type='Res2Net', depth=101, scales=4, base_width=26, num_stages=4,
          out_indices=(0, 1, 2, 3), frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True),
          norm_eval=True, style='pytorch'), True),
])
def test_other_libraries_configs_build_unchanged(backbone, v1b):
    model = MODELS.build(dict(backbone))
    assert isinstance(model, Res2Net) and model.deep_stem == model.avg_down == v1b
    assert model.layer1[1].width == backbone['base_width']
    assert len(model.layer1[1].convs) == backbone['scales'] - 1


@pytest.mark.parametrize('position', ['after_conv1', 'after_conv2', 'after_conv3'])
def test_plugins_at_each_position(position):
    model = Res2Net(depth=50, plugins=context_block_plugins(position)).eval()
    expected = 4 * 52 if position != 'after_conv3' else 512
    assert_context_block_runs(model, model.layer2[1], position, expected)


def test_drop_path_rate_is_applied():
    model = Res2Net(depth=50, num_stages=2, drop_path_rate=0.3)
    assert_drop_path_rises_to(model, 0.3, torch.rand(2, 3, 32, 32))


def test_zero_init_residual_zeroes_the_last_norm():
    model = Res2Net(depth=50, num_stages=2)
    model.init_weights()
    for block in (b for layer in model.stages() for b in layer):
        assert torch.count_nonzero(block.norm3.weight) == 0
        assert all(torch.all(bn.weight == 1) for bn in block.bns)


def test_style_caffe_and_dilation():
    model = Res2Net(depth=50, style='caffe', strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)).eval()
    block = model.layer2[0]
    assert block.conv1.stride == (2, 2) and block.convs[0].stride == (1, 1)
    assert block.pool is None  # caffe: the 3x3 convs do not stride
    assert model.layer4[1].convs[0].dilation == (2, 2)
    assert model.out_strides == (4, 8, 16, 16)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64))[-1].shape == (1, 2048, 4, 4)


@pytest.mark.parametrize('kwargs,exc,pattern', [
    (dict(depth=34), KeyError, r'depth=34 is not supported by Res2Net; allowed: \[50, 101, 152\]'),
    (dict(depth=50, scales=1), ValueError, r'scales=1 is out of range; allowed: 2\.\.None'),
    (dict(depth=50, base_width=0), ValueError, 'base_width=0 is out of range'),
    (dict(depth=50, groups=8), ValueError, r'groups=8 is not supported by Res2Net.*allowed: 1'),
    (dict(depth=50, dcn='DCN'), TypeError, 'dcn must be None or a dict'),
])
def test_bad_configs_name_argument_value_and_allowed(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        MODELS.build(dict(type='Res2Net', **kwargs))


@pytest.mark.skipif(not mmcv_ops_available(), reason='needs full mmcv with compiled ops '
                    '(bash tools/build_mmcv.sh); mmcv-lite has no DCN')
def test_dcn_in_split_convs():
    model = Res2Net(depth=50, dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=True),
                    stage_with_dcn=(False, True, True, True)).eval()
    assert type(model.layer1[1].convs[0]).__name__ == 'Conv2d'
    assert type(model.layer2[0].convs[0]).__name__ == 'Conv2d'  # strides: falls back
    assert all(type(c).__name__ == 'DeformConv2dPack' for c in model.layer2[1].convs)
    assert model.layer2[1].with_dcn and not model.layer2[0].with_dcn
    with torch.no_grad():
        assert model(torch.rand(2, 3, 96, 96))[-1].shape == (2, 2048, 3, 3)
