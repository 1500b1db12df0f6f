"""docs/adding_a_family.md stays true: its SE-ResNet example builds and keeps the contract."""
import inspect
import os.path as osp
import re

import pytest
import test_contract
import torch

from mmbackbones.models import ResNet
from mmbackbones.registry import MODELS

from conftest import SMALL_CLASS_ARGS, build_backbone, has_module, n_params

DOC = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'docs', 'adding_a_family.md')
NAMES = ('SEResNet', 'se_resnet50')
CONTRACT = [f for name, f in vars(test_contract).items()
            if name.startswith('test_') and 'name' in inspect.signature(f).parameters]


@pytest.fixture(scope='module')
def family():
    """Run every python block of the page in one namespace (with the test table it adds a row
    to); unregister what it registered and drop its row."""
    with open(DOC) as f:
        code = '\n'.join(re.findall(r'```python\n(.*?)```', f.read(), flags=re.S))
    namespace = {'SMALL_CLASS_ARGS': SMALL_CLASS_ARGS}
    try:
        exec(compile(code, DOC, 'exec'), namespace)
        assert 'SEResNet' in SMALL_CLASS_ARGS, 'the page adds no SMALL_CLASS_ARGS row'
        yield namespace
    finally:
        for name in NAMES:
            MODELS.module_dict.pop(name, None)
            SMALL_CLASS_ARGS.pop(name, None)


def test_the_example_is_one_family_on_the_resnet_skeleton(family):
    assert CONTRACT, 'no contract checks found in tests/test_contract.py'
    cls = family['SEResNet']
    assert issubclass(cls, ResNet) and MODELS.get('SEResNet') is cls
    model = MODELS.build(dict(type='se_resnet50', se_ratio=8))
    assert all(isinstance(b, family['SEBottleneck']) for layer in model.stages() for b in layer)
    assert model.layer1[0].se[1].out_channels == 256 // 8
    with pytest.raises(ValueError, match='se_resnet50 always uses depth=50'):
        MODELS.build(dict(type='se_resnet50', depth=101))
    assert model.se_ratio == 8 and 'se_ratio' in cls.recorded_names()
    with pytest.raises(AttributeError, match='se_ratio is read-only'):
        model.se_ratio = 4


def test_the_paths_and_mechanisms_on_the_page_exist():
    from mmbackbones.models import layers, variants
    from mmbackbones.models.backbones import base, resnet, skeleton
    with open(DOC) as f:
        text = f.read()
    root = osp.dirname(osp.dirname(DOC))
    paths = re.findall(r'`((?:mmbackbones|tests|docs)/[\w/.]+)`', text)
    assert len(paths) >= 5
    missing = [p for p in paths  # the example's own file is the reader's to write
               if not p.endswith('se_resnet.py') and not osp.exists(osp.join(root, p))]
    assert not missing, f'the page names paths that do not exist: {missing}'
    owners = {'make_stages': skeleton, 'ResNetSkeleton': skeleton, '_set_res_stages':
              skeleton.ResNetSkeleton, '_record': base.BaseBackbone, 'recorded_attributes':
              base.BaseBackbone, '_FixedResNet': resnet, '_make_stem_layer': resnet.ResNet,
              'first_block_args': resnet.ResNet, 'foreign_key_maps': resnet.ResNet,
              'register_variant': variants, 'apply_fixed': variants, 'fixed_arguments': variants,
              'DEFAULT_NORM_CFG': layers, '_residual': layers.Bottleneck, 'make_conv2':
              layers.Bottleneck, '_make_branch': layers.Bottleneck}
    for name, owner in owners.items():
        assert re.search(rf'`[^`]*\b{name}\b', text) and hasattr(owner, name), name
    assert resnet.ResNetV1c.fixed == variants.fixed_arguments(resnet.ResNetV1c)
    # the block signature the page lists is the blocks' one signature
    listed = re.search(r'their one signature \((.*?)\)', text, flags=re.S)[1]
    assert re.findall(r'`(\w+)`', listed) == [
        p for p in inspect.signature(layers.BasicBlock).parameters]
    assert inspect.signature(layers.BasicBlock) == inspect.signature(layers.Bottleneck)
    # what _set_res_stages records, as the page says
    said = re.search(r'records the output\s+contract \((.*?)\) and mmdet.s (.*?);', text,
                     flags=re.S)
    recorded = re.findall(r'`(\w+)`', said[1] + said[2])
    assert set(recorded) <= set(skeleton.ResNetSkeleton.recorded_names())
    assert layers.DEFAULT_NORM_CFG == dict(type='BN', requires_grad=True)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('check', CONTRACT, ids=lambda f: f.__name__)
def test_the_example_keeps_the_registry_contract(family, name, check, monkeypatch):
    kwargs = {'monkeypatch': monkeypatch} if 'monkeypatch' in inspect.signature(
        check).parameters else {}
    check(name, **kwargs)


def test_se_branch_changes_the_output(family):
    model = build_backbone('SEResNet').eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = model(x)[-1]
        for layer in model.stages():
            for block in layer:
                torch.nn.init.constant_(block.se[3].bias, -20.0)  # gate ~0: branch switched off
        after = model(x)[-1]
    assert not torch.allclose(before, after)


@pytest.mark.skipif(not has_module('timm'), reason='timm is not installed (pip install timm)')
def test_parameter_count_matches_timm_seresnet50(family):
    import timm
    theirs = timm.create_model('seresnet50', pretrained=False)
    ours = MODELS.build(dict(type='se_resnet50'))
    assert n_params(ours) + 2048 * 1000 + 1000 == n_params(theirs)
