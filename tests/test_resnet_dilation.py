"""mmsegmentation's ResNet arguments: contract_dilation, multi_grid and the pretrained alias."""
import warnings

import pytest
import torch

from mmbackbones.models import ResNet, ResNetV1c, ResNeXt
from mmbackbones.registry import MODELS

from conftest import assert_features_close, randomize, why_no_tier

# mmseg's PSPNet/DeepLabV3 R50-D8 backbone (configs/_base_/models/pspnet_r50-d8.py), type aside
D8 = dict(depth=50, num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
          strides=(1, 2, 1, 1), norm_eval=False, style='pytorch', contract_dilation=True)


def dilations(model):
    """The 3x3 conv dilation of every block, per stage (ours and mmseg's name ``res_layers``)."""
    return [[block.conv2.dilation[0] for block in getattr(model, name)]
            for name in model.res_layers]


def test_contract_dilation_halves_the_first_dilated_block():
    model = ResNetV1c(**D8)
    assert dilations(model) == [[1] * 3, [1] * 4, [1] + [2] * 5, [2, 4, 4]]
    assert model.layer4[0].conv2.padding == (2, 2) and model.layer4[1].conv2.padding == (4, 4)
    assert model.out_strides == (4, 8, 8, 8)  # dilation keeps the published strides true
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [16, 8, 8, 8]


def test_multi_grid_replaces_the_last_stage_dilations():
    model = ResNet(**dict(D8, multi_grid=(1, 2, 4)))
    assert dilations(model)[3] == [1, 2, 4]
    assert dilations(model)[2] == [1] + [2] * 5  # contract_dilation still acts elsewhere
    plain = ResNet(depth=50, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1))
    assert dilations(plain)[2:] == [[2] * 6, [4] * 3]  # neither option: unchanged
    assert dilations(ResNeXt(**dict(D8, multi_grid=(1, 2, 1))))[3] == [1, 2, 1]


@pytest.mark.parametrize('kwargs,exc,match', [
    (dict(multi_grid=(1, 2)), ValueError, r'multi_grid=\(1, 2\) needs one dilation per block '
     r'of the last stage \(3 blocks\)'),
    (dict(multi_grid=(1, 2, 0)), ValueError, 'multi_grid entry=0 is out of range'),
    (dict(pretrained=3), TypeError, 'pretrained must be a checkpoint path'),
    (dict(pretrained='a.pth', init_cfg=dict(type='Pretrained', checkpoint='b.pth')), ValueError,
     r"pretrained='a.pth' and init_cfg=.*give one of them"),
])
def test_bad_arguments_name_themselves(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MODELS.build(dict(type='ResNetV1c', **dict(D8, **kwargs)))


def test_pretrained_is_a_deprecated_alias_of_init_cfg(tmp_path):
    source = randomize(ResNet(depth=18))
    path = tmp_path / 'r18.pth'
    torch.save(source.state_dict(), path)
    with pytest.warns(DeprecationWarning, match="init_cfg=dict\\(type='Pretrained'") as record:
        model = ResNet(depth=18, pretrained=str(path))
    assert len([w for w in record if issubclass(w.category, DeprecationWarning)]) == 1
    assert model.init_cfg == dict(type='Pretrained', checkpoint=str(path))
    model.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, msg=key)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no warning without pretrained
        ResNet(depth=18)


@pytest.mark.skipif(why_no_tier('mmseg') is not None, reason=str(why_no_tier('mmseg')))
@pytest.mark.parametrize('extra', [dict(), dict(multi_grid=(1, 2, 4)),
                                   dict(contract_dilation=False, multi_grid=(2, 2, 1))])
def test_mmseg_resnetv1c_weights_give_mmsegs_outputs(tmp_path, extra):
    from mmseg.models.backbones import ResNetV1c as TheirResNetV1c
    cfg = dict(D8, **extra)
    theirs = randomize(TheirResNetV1c(**cfg))
    theirs.eval()
    assert dilations(ResNetV1c(**cfg)) == dilations(theirs)
    path = tmp_path / 'pspnet.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in theirs.state_dict().items()}},
               path)
    ours = ResNetV1c(**cfg, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_features_close(ours.eval()(x), theirs(x))
