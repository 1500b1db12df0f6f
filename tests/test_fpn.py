"""FPN: mmdet's arguments and outputs, parameter counts, in_channels from the backbone."""
import copy

import pytest
import torch
import torch.nn as nn

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import FPN, ResNet
from mmbackbones.registry import MODELS

from conftest import (
    assert_features_close,
    n_params,
    randomize,
    requires_mmdet,
)

R50_CHANNELS = [256, 512, 1024, 2048]




# configs/fpn/metafile.yml
@pytest.mark.parametrize('kwargs,name', [
    (dict(), 'fpn_r50'),  # Faster/Mask R-CNN
    (dict(start_level=1, add_extra_convs='on_input'), 'fpn_r50_retinanet'),  # RetinaNet
    (dict(start_level=1, add_extra_convs='on_output'), 'fpn_r50_extra_on_output'),
])
def test_parameter_counts(kwargs, name):
    neck = FPN(in_channels=R50_CHANNELS, out_channels=256, num_outs=5, **kwargs)
    assert n_params(neck) == metadata(name, 'Parameters')


def test_module_names_follow_mmdet():
    keys = set(FPN(R50_CHANNELS, 256, 5, start_level=1, add_extra_convs='on_input',
                   norm_cfg=dict(type='GN', num_groups=32)).state_dict())
    assert {'lateral_convs.0.conv.weight', 'lateral_convs.2.gn.weight', 'fpn_convs.2.conv.weight',
            'fpn_convs.4.conv.weight'} <= keys
    assert 'lateral_convs.3.conv.weight' not in keys


@pytest.mark.parametrize('add_extra_convs', [False, True, 'on_input', 'on_lateral', 'on_output'])
def test_shapes_and_strides_for_each_extra_mode(add_extra_convs):
    backbone = ResNet(depth=18).eval()
    neck = FPN.from_backbone(backbone, out_channels=32, num_outs=6, start_level=1,
                             add_extra_convs=add_extra_convs, relu_before_extra_convs=True)
    assert neck.in_channels == [64, 128, 256, 512]
    assert neck.out_strides == (8, 16, 32, 64, 128, 256)
    with torch.no_grad():
        outs = neck(backbone(torch.rand(1, 3, 256, 256)))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 256 // s, 256 // s)
                                              for s in neck.out_strides]


def test_end_level_is_inclusive():
    neck = FPN(R50_CHANNELS, 16, num_outs=2, start_level=1, end_level=2)
    assert len(neck.lateral_convs) == 2 and neck.backbone_end_level == 3
    feats = [torch.rand(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate(R50_CHANNELS)]
    outs = neck(feats)
    assert [o.shape[-1] for o in outs] == [16, 8]


def test_upsample_scale_factor_and_norm_act_cfgs():
    neck = FPN([8, 16], 8, 2, upsample_cfg=dict(scale_factor=2, mode='nearest'),
               norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'), no_norm_on_lateral=True)
    assert not neck.lateral_convs[0].with_norm
    assert neck.fpn_convs[0].with_norm and neck.fpn_convs[0].with_activation
    outs = neck([torch.rand(2, 8, 16, 16), torch.rand(2, 16, 8, 8)])
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 16), (2, 8, 8, 8)]


class _Detector(nn.Module):
    """Builds backbone then neck, as mmdet's detectors do."""

    def __init__(self, backbone, neck):
        super().__init__()
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)


def test_in_channels_come_from_the_backbone_inside_a_model():
    model = _Detector(dict(type='ResNet', depth=50, out_indices=(1, 2, 3)),
                      dict(type='FPN', out_channels=64, num_outs=4))
    assert model.neck.in_channels == [512, 1024, 2048]
    assert model.neck.out_strides == (8, 16, 32, 64)


def test_typed_in_channels_are_used_as_given_and_checked_at_forward():
    """Typed in_channels never consult a backbone found on the call stack (as mmdet's FPN);
    feature maps that disagree with them are a clear error at the first forward."""
    model = _Detector(dict(type='ResNet', depth=18),
                      dict(type='FPN', in_channels=R50_CHANNELS, out_channels=64, num_outs=5))
    assert model.neck.in_channels == R50_CHANNELS and model.neck.out_strides is None
    with pytest.raises(ValueError) as info:
        model.neck(model.backbone(torch.rand(1, 3, 64, 64)))
    text = str(info.value)
    assert 'in_channels=[256, 512, 1024, 2048]' in text
    assert 'feature maps of [64, 128, 256, 512] channels' in text


def test_in_channels_none_without_a_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match='in_channels=None.*FPN.from_backbone'):
        FPN(out_channels=256, num_outs=5)


@pytest.mark.parametrize('kwargs,exc,pattern', [
    (dict(in_channels=R50_CHANNELS, num_outs=3), ValueError, 'num_outs=3 is fewer than the 4'),
    (dict(in_channels=R50_CHANNELS, end_level=2, num_outs=5), ValueError,
     'num_outs must be 3'),
    (dict(in_channels=R50_CHANNELS, end_level=4), ValueError, r'end_level=4 .*-1\.\.3'),
    (dict(in_channels=R50_CHANNELS, start_level=4), ValueError, r'start_level=4 .*0\.\.3'),
    (dict(in_channels=R50_CHANNELS, add_extra_convs='on_top'), ValueError,
     r"add_extra_convs='on_top' .*'on_input', 'on_lateral', 'on_output'"),
    (dict(in_channels='256'), TypeError, 'in_channels must be None or a non-empty list'),
    (dict(in_channels=R50_CHANNELS, norm_cfg=dict(type='NoNorm')), KeyError, "'NoNorm'"),
    (dict(in_channels=R50_CHANNELS, upsample_cfg=dict(scale_factor=2)), TypeError,
     'upsample_cfg must be'),
    (dict(in_channels=R50_CHANNELS, upsample_cfg=dict(mode='nosuch')), ValueError,
     r"upsample_cfg\['mode'\]='nosuch' is not supported; allowed: \['nearest'"),
    (dict(in_channels=R50_CHANNELS, upsample_cfg=dict(mode='nearest', align_corners=True)),
     ValueError, 'upsample_cfg=.* is not accepted by F.interpolate'),
    (dict(in_channels=R50_CHANNELS, upsample_cfg=dict(mode='nearest', size=4)), ValueError,
     'size is taken from the finer level'),
])
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        FPN(**kwargs)


def test_wrong_number_of_inputs_is_a_clear_error():
    with pytest.raises(ValueError, match='FPN got 3 feature maps but was built for 4'):
        FPN(R50_CHANNELS, 8, 5)([torch.rand(1, c, 4, 4) for c in R50_CHANNELS[:3]])




@requires_mmdet
@pytest.mark.parametrize('kwargs', [
    dict(num_outs=5),
    dict(num_outs=5, start_level=1, add_extra_convs='on_input'),
    dict(num_outs=6, start_level=1, add_extra_convs='on_lateral', relu_before_extra_convs=True),
    dict(num_outs=5, add_extra_convs='on_output', norm_cfg=dict(type='GN', num_groups=8),
         act_cfg=dict(type='ReLU')),
    dict(num_outs=2, start_level=1, end_level=2),
    dict(num_outs=4, upsample_cfg=dict(scale_factor=2, mode='nearest'), no_norm_on_lateral=True,
         norm_cfg=dict(type='BN')),
])
def test_same_outputs_as_mmdet_fpn_from_its_checkpoint(tmp_path, kwargs):
    from mmdet.models.necks import FPN as MMDetFPN
    theirs = randomize(MMDetFPN(R50_CHANNELS, 32, **copy.deepcopy(kwargs))).eval()
    path = tmp_path / 'retinanet.pth'
    state = {f'neck.{k}': v for k, v in theirs.state_dict().items()}
    state.update({f'backbone.{k}': v for k, v in ResNet(depth=18).state_dict().items()})
    torch.save({'state_dict': state}, path)  # a detector: the loader must pick 'neck.'
    ours = FPN(R50_CHANNELS, 32, init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                               min_match=1.0), **copy.deepcopy(kwargs))
    ours.init_weights()
    ours.eval()
    feats = [torch.randn(2, c, 64 // 2**i, 64 // 2**i) for i, c in enumerate(R50_CHANNELS)]
    with torch.no_grad():
        assert_features_close(ours(feats), theirs(feats))
