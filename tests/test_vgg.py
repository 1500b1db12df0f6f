"""VGG: parameter counts, arguments, the classifier output, mmpretrain configs (foreign weights:
test_foreign_weights.py)."""
from pathlib import Path

import pytest
import torch

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import VGG
from mmbackbones.registry import MODELS

from conftest import has_module, n_params

# torchvision num_params (configs/vgg/metafile.yml), 1000 classes; mmpretrain's are these rounded
ZOO_PARAMS = {name: metadata(name, 'Parameters') for name in (
    'vgg11', 'vgg11_bn', 'vgg13', 'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn')}




@pytest.mark.parametrize('name', sorted(ZOO_PARAMS))
def test_param_counts(name):
    with torch.device('meta'):
        model = MODELS.build(dict(type=name, num_classes=1000))
    assert n_params(model) == ZOO_PARAMS[name]


def test_channels_strides_and_classifier_output():
    model = VGG(depth=11, num_classes=7).eval()
    assert model.stage_channels == (64, 128, 256, 512, 512, 7)
    assert model.stage_strides == (2, 4, 8, 16, 32, 32)
    assert model.out_indices == (0, 1, 2, 3, 4, 5)
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 64, 64))
    assert [o.shape[1] for o in outs] == list(model.out_channels)
    assert outs[-1].shape == (2, 7)
    # only the classifier, by a negative index (mmpretrain's out_indices=(5,))
    model = VGG(depth=11, num_classes=7, out_indices=-1).eval()
    with torch.no_grad():
        (logits, ) = model(torch.rand(1, 3, 40, 40))
    assert logits.shape == (1, 7)


def test_classifier_not_run_when_not_requested():
    model = VGG(depth=11, num_classes=7, out_indices=(0, 2)).eval()
    calls = []
    model.classifier.register_forward_hook(lambda *_: calls.append(1))
    outs = model(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [64, 256] and not calls


def test_with_last_pool_ceil_mode_and_dilations():
    model = VGG(depth=11, with_last_pool=False).eval()
    assert model.stage_strides == (2, 4, 8, 16, 16)
    assert model(torch.rand(1, 3, 64, 64))[-1].shape[-2:] == (4, 4)
    x = torch.rand(1, 3, 50, 50)  # 50 -> 25 -> 12.5: floor drops, ceil keeps the last row
    assert VGG(depth=11).eval()(x)[2].shape[-1] == 6
    assert VGG(depth=11, ceil_mode=True).eval()(x)[2].shape[-1] == 7
    model = VGG(depth=16, dilations=(1, 1, 1, 2, 2)).eval()
    assert model.features[-2].conv.dilation == (2, 2)
    assert model(torch.rand(1, 3, 64, 64))[-1].shape == (1, 512, 2, 2)


def test_frozen_stages_follow_mmpretrain():
    # no stem: 0 freezes nothing, k the first k stages, num_stages + 1 also the classifier
    assert VGG(depth=11, frozen_stages=0).frozen_modules() == []
    model = VGG(depth=11, frozen_stages=2).train()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {'features.0.conv.weight', 'features.0.conv.bias',
                      'features.2.conv.weight', 'features.2.conv.bias'}
    model = VGG(depth=11, num_classes=3, frozen_stages=6)
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('kwargs,error,words', [
    (dict(depth=12), KeyError, ['depth=12', '11, 13, 16, 19']),
    (dict(depth=11, out_indices=(5, )), ValueError, ['out_indices', 'num_classes']),
    (dict(depth=11, num_classes=10, out_indices=(6, )), ValueError, ['out_indices', '6']),
    (dict(depth=11, num_stages=6), ValueError, ['num_stages=6']),
    (dict(depth=11, dilations=(1, 2)), ValueError, ['dilations']),
    (dict(depth=11, norm_eval=True), ValueError, ['norm_eval', 'norm_cfg']),
    (dict(depth=11, frozen_stages=6), ValueError, ['frozen_stages=6']),
    (dict(depth=11, norm_cfg=dict(type='BNN')), KeyError, ['norm_cfg', 'BNN']),
])
def test_bad_arguments_name_themselves(kwargs, error, words):
    with pytest.raises(error) as info:
        VGG(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_named_variants():
    assert MODELS.build(dict(type='vgg13_bn')).features[0].norm_name == 'bn'
    assert MODELS.build(dict(type='vgg13')).features[0].with_norm is False
    with pytest.raises(ValueError, match='norm_cfg'):
        MODELS.build(dict(type='vgg13', norm_cfg=dict(type='BN')))


# ------------------------------------------------------------------ other libraries' configs
CONFIGS = Path(__file__).resolve().parents[1] / 'configs'




@pytest.mark.slow
@pytest.mark.skipif(not has_module('mmpretrain'), reason='mmpretrain is not installed')
@pytest.mark.parametrize('name', sorted(ZOO_PARAMS))
def test_model_configs_build(name):
    from mmengine.config import Config
    from mmengine.registry import MODELS as ROOT_MODELS
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'models' / f'{name.replace("_", "")}.py'))
    with torch.device('meta'):
        model = ROOT_MODELS.build(cfg.model)
    assert isinstance(model.backbone, VGG)
    assert n_params(model) == ZOO_PARAMS[name]
