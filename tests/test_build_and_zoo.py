"""build_model, named variants (register_variant) and the metafiles' reference numbers."""
import os.path as osp

import pytest

from mmbackbones import build_model
from mmbackbones.checkpoint.catalogue import REPO_ROOT, load_zoo, metadata, zoo_entry
from mmbackbones.models import ResNet, ResNetV1d, ResNeXt
from mmbackbones.models.variants import Not, apply_fixed
from mmbackbones.registry import MODELS

from conftest import registered_backbones

CONFIG = osp.join(REPO_ROOT, 'configs', 'resnet', 'resnet18_8xb32_in1k.py')


# ---------------------------------------------------------------- build_model
def test_build_model_from_a_name_a_dict_and_a_config():
    assert build_model('resnet18', out_indices=(3, )).out_channels == (512, )
    assert build_model(dict(type='ResNet', depth=18), num_stages=2).out_channels == (64, 128)
    classifier = build_model(CONFIG)
    assert type(classifier).__name__ == 'ImageClassifier'
    assert isinstance(classifier.backbone, ResNet) and classifier.backbone.depth == 18
    backbone = build_model(CONFIG, part='backbone', frozen_stages=1)
    assert isinstance(backbone, ResNet) and backbone.frozen_stages == 1


@pytest.mark.parametrize('spec,message', [
    ('resnet19', "'resnet19' is neither a config file nor a registered model. Did you mean"),
    ('configs/resnet/nope.py', "config file 'configs/resnet/nope.py' does not exist"),
])
def test_build_model_unknown_input_is_a_clear_error(spec, message):
    with pytest.raises(ValueError, match=message):
        build_model(spec)
    with pytest.raises(ValueError, match="part='neck'"):
        build_model('resnet18', part='neck')


# ---------------------------------------------------------------- named variants
def test_variant_fixed_arguments_are_errors_when_contradicted():
    with pytest.raises(ValueError, match=r'resnext101_32x8d always uses base_width=8; got '
                       r'base_width=4\. Use ResNeXt\(base_width=\.\.\.\)'):
        MODELS.build(dict(type='resnext101_32x8d', base_width=4))
    with pytest.raises(ValueError, match='vgg16_bn never uses norm_cfg=None'):
        MODELS.build(dict(type='vgg16_bn', norm_cfg=None))
    # repeating a fixed value is fine; other arguments pass through
    model = MODELS.build(dict(type='resnext101_32x8d', depth=101, num_stages=1))
    assert isinstance(model, ResNeXt) and (model.groups, model.base_width) == (32, 8)


def test_variant_defaults_may_be_overridden():
    assert MODELS.build(dict(type='googlenet_tv')).conv1.bn.eps == 1e-3
    model = MODELS.build(dict(type='googlenet_tv', norm_cfg=dict(type='BN', eps=1e-5)))
    assert model.conv1.bn.eps == 1e-5


def test_apply_fixed_and_variant_description():
    assert apply_fixed('v', dict(a=1), dict(a=1, b=2, c=Not(None)), 'F') == dict(a=1, b=2)
    build = MODELS.get('resnet101_v1d')
    assert build.variant_of is ResNetV1d
    assert build.fixed == dict(depth=101, deep_stem=True, avg_down=True)
    assert build.__module__ == 'mmbackbones.models.backbones.resnet'


def test_new_variants_are_registered():
    assert {'resnext101_32x4d', 'resnext101_32x8d', 'resnext101_64x4d', 'resnext152_32x4d',
            'res2net101_26w_4s', 'res2net50_14w_8s', 'res2net101_v1b_26w_4s'} <= set(
                registered_backbones())


# ---------------------------------------------------------------- metafiles
def test_metafiles_name_existing_configs_and_registered_variants():
    zoo = load_zoo()
    assert len(zoo) >= 40
    for entry in zoo.values():
        assert entry.paper.get('URL', '').startswith('https://arxiv.org/'), entry.name
        if entry.config:
            assert osp.isfile(osp.join(REPO_ROOT, entry.config)), entry.config
    variants = {n for n in registered_backbones() if not isinstance(MODELS.get(n), type)}
    with_numbers = {n for n, e in zoo.items() if e.params and n in variants}
    # every ResNet/ResNeXt/VGG/GoogLeNet variant has its reference numbers
    assert {n for n in variants if n.startswith(('resnet', 'resnext', 'vgg', 'googlenet'))} \
        <= with_numbers


def test_metadata_lookup_by_variant_or_config_name():
    assert metadata('resnet50', 'Parameters') == 25_557_032
    assert zoo_entry('resnet50_8xb32_in1k') is zoo_entry('resnet50')
    assert zoo_entry('no_such_model') is None
    with pytest.raises(KeyError, match="no 'FLOPs' for 'fpn_r50'"):
        metadata('fpn_r50', 'FLOPs')
