"""Positional arguments: only a class's first natural one (``depth``; FPN's three mmdet ones);
named variants (``resnet50``, ``vgg16_bn``, ...) take keywords only.

Argument orders differ between OpenMMLab repos (mmaction2's ``ResNet3d(depth, pretrained, ...)``,
mmpretrain's ``ResNet(depth, in_channels, stem_channels, base_channels, expansion, ...)``); a
positional call written against one of them must be a TypeError here, not a checkpoint path in
``stage_blocks``. As torchvision does, everything after the first argument is keyword-only.
"""
from __future__ import annotations

import inspect

import pytest

from mmbackbones.models import FPN, ResNet3d
from mmbackbones.registry import MODELS

# FPN keeps mmdet's FPN(in_channels, out_channels, num_outs, ...), which mmdet users call
# positionally and which our order matches.
POSITIONAL = {'FPN': ['in_channels', 'out_channels', 'num_outs']}


def _positional(obj) -> list[str]:
    params = inspect.signature(obj).parameters.values()
    return [p.name for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]


@pytest.mark.parametrize('name', sorted(MODELS.module_dict))
def test_at_most_the_first_argument_is_positional(name):
    obj = MODELS.get(name)
    positional = _positional(obj)
    allowed = POSITIONAL.get(name, positional[:1] if isinstance(obj, type) else [])
    assert positional == allowed, f'{name}: arguments that can be passed by position: {positional}'


def test_mmaction2_positional_order_is_a_type_error(tmp_path):
    # mmaction2: ResNet3d(depth, pretrained, stage_blocks=None, pretrained2d=True, ...)
    with pytest.raises(TypeError, match=r'ResNet3d.__init__\(\) takes 2 positional'):
        ResNet3d(18, str(tmp_path / 'r18.pth'))
    with pytest.raises(TypeError, match=r'FPN.__init__\(\) takes from 1 to 4 positional'):
        FPN([64, 128], 16, 2, 0)  # start_level by position
    assert ResNet3d(18, base_channels=8).depth == 18
    # a variant's fixed depth cannot be replaced by a positional argument (vgg11(16) built VGG-16)
    for name, arg in (('vgg11', 16), ('resnet18', 50)):
        with pytest.raises(TypeError, match=rf'^{name}\(\) takes 0 positional arguments'):
            MODELS.get(name)(arg)
