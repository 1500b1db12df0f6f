"""Weights from torchvision, timm, mmpretrain and mmdet load into ours and give their outputs.

Each test builds the other library's model, randomises it, saves its state dict the way that
library does, loads the file through ``init_cfg=dict(type='Pretrained', ...)`` and compares
every stage output.
"""
import copy

import pytest
import torch

from mmbackbones.checkpoint import save_atomic

from conftest import (
    assert_features_close,
    has_module,
    load_into_ours,
    randomize,
    requires_mmdet,
    seeded_input,
)

pytestmark = pytest.mark.slow
X = seeded_input(2, 3, 96, 96)


def ours_features(model):
    with torch.no_grad():
        return model(X)


def tv_features(model):
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(X))))
        feats = []
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            x = layer(x)
            feats.append(x)
    return feats


@pytest.mark.skipif(not has_module('torchvision'), reason='torchvision is not installed')
@pytest.mark.parametrize('arch,cfg', [
    ('resnet18', dict(type='ResNet', depth=18)),
    ('resnet50', dict(type='ResNet', depth=50)),
    ('resnext50_32x4d', dict(type='ResNet', depth=50, groups=32, base_width=4)),
])
def test_torchvision(tmp_path, arch, cfg):
    import torchvision
    theirs = randomize(getattr(torchvision.models, arch)(weights=None)).eval()
    path = tmp_path / f'{arch}.pth'
    torch.save(theirs.state_dict(), path)
    ours = load_into_ours(path, **cfg)
    assert_features_close(ours_features(ours), tv_features(theirs))


@pytest.mark.skipif(not has_module('timm'), reason='timm is not installed')
@pytest.mark.parametrize('arch,cfg,suffix', [
    ('resnet50d', dict(type='ResNetV1d', depth=50), '.safetensors'),
    ('resnet18d', dict(type='ResNetV1d', depth=18), '.pth'),
    ('resnet50c', dict(type='ResNetV1c', depth=50), '.pth'),
    ('resnet34', dict(type='ResNet', depth=34), '.safetensors'),
])
def test_timm(tmp_path, arch, cfg, suffix):
    import timm
    theirs = randomize(timm.create_model(arch, pretrained=False)).eval()
    path = tmp_path / f'{arch}{suffix}'
    if suffix == '.safetensors':
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in theirs.state_dict().items()}, str(path))
    else:
        torch.save(theirs.state_dict(), path)
    ours = load_into_ours(path, **cfg)
    with torch.no_grad():
        expected = theirs.forward_intermediates(X, indices=[1, 2, 3, 4],
                                                intermediates_only=True)
    assert_features_close(ours_features(ours), expected)


@pytest.mark.skipif(not has_module('mmpretrain'), reason='mmpretrain is not installed')
@pytest.mark.parametrize('cfg', [
    dict(type='ResNet', depth=50),
    dict(type='ResNet', depth=18),
    dict(type='ResNetV1c', depth=50),
    dict(type='ResNetV1d', depth=50),
    dict(type='ResNet_CIFAR', depth=18),
])
def test_mmpretrain_classifier_checkpoint(tmp_path, cfg):
    """An mmpretrain ImageClassifier checkpoint: 'backbone.' keys + head, meta; built from a
    config of theirs that our registry builds unchanged."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    backbone_cfg = dict(cfg, num_stages=4, out_indices=(0, 1, 2, 3), style='pytorch')
    theirs = PRETRAIN_MODELS.build(dict(
        type='ImageClassifier', backbone=backbone_cfg, neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=theirs_width(cfg))))
    randomize(theirs).eval()
    path = tmp_path / 'epoch_1.pth'
    save_atomic({'meta': {'epoch': 1, 'dataset_meta': {'classes': ['a', 'b']}},
                 'state_dict': theirs.state_dict()}, str(path))
    ours = load_into_ours(path, **backbone_cfg)
    with torch.no_grad():
        expected = theirs.backbone(X)
    assert_features_close(ours_features(ours), expected)


def theirs_width(cfg):
    return 512 if cfg['depth'] < 50 else 2048




@requires_mmdet
@pytest.mark.parametrize('cfg', [
    dict(type='ResNet', depth=50, frozen_stages=1, norm_eval=True, style='pytorch'),
    dict(type='ResNet', depth=101, style='caffe'),
    dict(type='ResNetV1d', depth=50),
    dict(type='ResNet', depth=50, plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 16),
                                                stages=(False, True, True, True),
                                                position='after_conv3')]),
    dict(type='ResNet', depth=50, dcn=dict(type='DCN', deform_groups=1,
                                           fallback_on_stride=False),
         stage_with_dcn=(False, True, True, True)),
])
def test_mmdet_detector_checkpoint(tmp_path, cfg):
    """An mmdet detector checkpoint ('backbone.' + neck/head keys) from mmdet's own ResNet."""
    from mmdet.registry import MODELS as DET_MODELS
    theirs = randomize(DET_MODELS.build(copy.deepcopy(cfg)))
    theirs.eval()  # mmdet's ResNet.train() returns None, so no chaining
    state = {f'backbone.{k}': v for k, v in theirs.state_dict().items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 256, 1, 1)
    path = tmp_path / 'faster_rcnn.pth'
    torch.save({'meta': {'mmdet_version': '3.3.0'}, 'state_dict': state}, path)
    ours = load_into_ours(path, **copy.deepcopy(cfg))
    with torch.no_grad():
        expected = theirs(X)
    assert_features_close(ours_features(ours), expected)
