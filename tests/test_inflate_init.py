"""``init_cfg=dict(type='Inflate', ...)``: a 2D checkpoint of every ResNet-like family inflated into
ResNet3d from a config, with the report of ``inflate_pretrained``; what ResNet3d cannot express
(ResNetV1c/V1d's deep stem and V1d's AvgPool shortcuts) is left untouched and reported."""
from __future__ import annotations

import pytest
import torch
from mmengine.registry import WEIGHT_INITIALIZERS

from mmbackbones.checkpoint import InflateInit, core
from mmbackbones.registry import MODELS

from conftest import randomize

FRAME = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
FRAMES = 8

# (2D family and arguments, the matching ResNet3d arguments)
FAMILIES = {
    'resnet18-basic': (dict(type='ResNet', depth=18, base_channels=16),
                       dict(depth=18, base_channels=16)),
    'resnet50-bottleneck': (dict(type='ResNet', depth=50, base_channels=16),
                            dict(depth=50, base_channels=16)),
    'resnext50-32x4d': (dict(type='ResNeXt', depth=50, groups=8, width_per_group=4,
                             base_channels=16),
                        dict(depth=50, groups=8, base_width=4, base_channels=16)),
}
# 3D layouts: every block inflated (R3D) and I3D's pattern with temporal strides
LAYOUTS = {
    'r3d': dict(conv1_kernel=(3, 7, 7), inflate=1),
    'i3d': dict(conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
                inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))),
}


def _checkpoint(tmp_path, cfg_2d: dict) -> tuple[str, torch.nn.Module]:
    model = randomize(MODELS.build(cfg_2d)).eval()
    path = str(tmp_path / 'two_d.pth')
    torch.save({'meta': {}, 'state_dict': {f'backbone.{k}': v
                                           for k, v in model.state_dict().items()}}, path)
    return path, model


def _logged(monkeypatch) -> list[str]:
    logs: list[str] = []
    monkeypatch.setattr(core, 'print_log', lambda msg, logger=None, **kw: logs.append(msg))
    return logs


@pytest.mark.parametrize('layout', sorted(LAYOUTS))
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_center_on_a_static_clip_gives_the_2d_features(tmp_path, monkeypatch, family, layout):
    cfg_2d, args_3d = FAMILIES[family]
    args_3d = dict(args_3d, **LAYOUTS[layout])
    if args_3d['depth'] == 18 and layout == 'i3d':  # 2 blocks per stage
        args_3d['inflate'] = ((1, 0), (1, 0), (1, 0), (0, 1))
    path, two_d = _checkpoint(tmp_path, cfg_2d)
    logs = _logged(monkeypatch)
    model = MODELS.build(dict(type='ResNet3d', **args_3d,
                              init_cfg=dict(type='Inflate', checkpoint=path, method='center')))
    model.init_weights()
    with torch.no_grad():
        expected = two_d(FRAME)
        got = model.eval()(FRAME.unsqueeze(2).expand(-1, -1, FRAMES, -1, -1).contiguous())
    for e, g in zip(expected, got):
        for t in range(g.shape[2]):  # every remaining time step
            torch.testing.assert_close(g[:, :, t], e, rtol=1e-4,
                                       atol=1e-4 * max(1.0, e.abs().max().item()))
    report = '\n'.join(logs)
    assert report.startswith(f"Inflated {path} (prefix 'backbone.') with method 'center'"), report
    n_convs = sum(1 for m in model.modules() if isinstance(m, torch.nn.Conv3d))
    assert f'inflated (2D kernel -> 3D): {n_convs} [conv1.weight, layer1.0.conv1.weight' in report
    assert 'left untouched in the 3D model: 0' in report and 'unused 2D keys: 0' in report
    assert '100.0% of the model parameters set from 2D weights' in report, report


@pytest.mark.parametrize('method', ['mean', 'repeat'])
def test_mean_and_repeat_scale_the_temporal_kernel(tmp_path, method):
    path, two_d = _checkpoint(tmp_path, FAMILIES['resnet18-basic'][0])
    model = MODELS.build(dict(type='ResNet3d', depth=18, base_channels=16, conv1_kernel=(3, 7, 7),
                              init_cfg=dict(type='Inflate', checkpoint=path, method=method)))
    model.init_weights()
    kernel = model.conv1.weight  # 3 x 7 x 7 from the 2D 7 x 7
    expected = two_d.conv1.weight / (3 if method == 'mean' else 1)
    for t in range(3):
        torch.testing.assert_close(kernel[:, :, t], expected)


def test_zero_init_residual_does_not_zero_inflated_norms(tmp_path):
    path, two_d = _checkpoint(tmp_path, FAMILIES['resnet18-basic'][0])
    model = MODELS.build(dict(type='ResNet3d', depth=18, base_channels=16, zero_init_residual=True,
                              init_cfg=dict(type='Inflate', checkpoint=path, method='center')))
    model.init_weights()
    torch.testing.assert_close(model.layer1[0].bn2.weight, two_d.layer1[0].bn2.weight)


@pytest.mark.parametrize('family', ['ResNetV1c', 'ResNetV1d'])
def test_deep_stem_families_are_reported_not_expressible(tmp_path, monkeypatch, family):
    """ResNet3d has the 7x7 stem only: a V1c/V1d deep stem (three 3x3 convs) is left out, and
    reported: its keys as unused, ResNet3d's conv1/bn1 as untouched; the stages inflate."""
    path, _ = _checkpoint(tmp_path, dict(type=family, depth=50, base_channels=16))
    logs = _logged(monkeypatch)
    model = MODELS.build(dict(type='ResNet3d', depth=50, base_channels=16,
                              init_cfg=dict(type='Inflate', checkpoint=path, method='mean')))
    model.init_weights()
    report = '\n'.join(logs)
    assert 'unused 2D keys' in report and 'stem.0.weight' in report, report
    assert 'left untouched in the 3D model' in report and 'conv1.weight' in report
    # every conv of the stages is inflated (V1d's AvgPool shortcut convs too): all but conv1
    n_convs = sum(1 for m in model.modules() if isinstance(m, torch.nn.Conv3d))
    assert f'inflated (2D kernel -> 3D): {n_convs - 1} [layer1.0.conv1.weight' in report, report


def test_inflate_init_arguments_are_checked():
    with pytest.raises(ValueError, match=r"method='middle' is not supported; allowed: "
                                         r"\['mean', 'center', 'repeat'\]"):
        WEIGHT_INITIALIZERS.build(dict(type='Inflate', checkpoint='x.pth', method='middle'))
    with pytest.raises(TypeError, match="type='Inflate' needs checkpoint="):
        InflateInit(checkpoint=None)
    with pytest.raises(TypeError, match="type='Inflate' needs checkpoint=<file>"):
        MODELS.build(dict(type='ResNet3d', depth=18, init_cfg=dict(type='Inflate'))).init_weights()


def test_inflate_init_through_mmengine_initialize(tmp_path):
    """A module that is not ours (an mmengine BaseModule holding a ResNet3d-like net) runs
    the registered initializer through mmengine's ``initialize``."""
    from mmengine.model import initialize
    path, two_d = _checkpoint(tmp_path, FAMILIES['resnet18-basic'][0])
    model = MODELS.build(dict(type='ResNet3d', depth=18, base_channels=16))
    initialize(model, dict(type='Inflate', checkpoint=path, method='center'))
    torch.testing.assert_close(model.conv1.weight[:, :, 1], two_d.conv1.weight)


def test_mmaction2_inflates_our_torchvision_layout_copy_as_our_mean(tmp_path):
    """tools/misc/torchvision_layout.py writes our 2D classifier checkpoint under torchvision's
    names; mmaction2's ResNet3d (``pretrained2d=True``) inflates that copy into the same weights
    and the same features as our ``Inflate`` with ``method='mean'`` from the original."""
    from conftest import mmaction_resnet3d_module, tool, why_no_tier
    reason = why_no_tier('mmaction')
    if reason is not None:
        pytest.skip(reason)
    path, _ = _checkpoint(tmp_path, dict(type='ResNet', depth=18))
    tv = str(tmp_path / 'torchvision.pth')
    convert = tool('misc/torchvision_layout.py')
    assert convert.main([path, str(tmp_path / 'r34.pth'), '--depth', '34']) == 2  # not a match
    assert not (tmp_path / 'r34.pth').exists()
    assert convert.main([path, tv]) == 0
    torchvision_names = set(torch.load(tv))
    assert 'layer1.0.downsample.0.weight' not in torchvision_names  # resnet18's first stage
    assert {'conv1.weight', 'bn1.running_var', 'layer2.0.downsample.0.weight',
            'layer4.1.bn2.bias'} <= torchvision_names
    args = dict(depth=18, conv1_kernel=(3, 7, 7), out_indices=(0, 1, 2, 3),
                inflate=((1, 0), (1, 0), (1, 0), (1, 0)))
    theirs = mmaction_resnet3d_module().ResNet3d(pretrained=tv, pretrained2d=True, **args)
    theirs.init_weights()
    theirs.eval()  # mmaction2's ResNet3d.train() returns None: no chaining
    ours = MODELS.build(dict(type='ResNet3d', **args,
                             init_cfg=dict(type='Inflate', checkpoint=path, method='mean')))
    ours.init_weights()
    torch.testing.assert_close(ours.conv1.weight, theirs.conv1.conv.weight)
    clip = torch.randn(1, 3, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for a, b in zip(ours.eval()(clip), theirs(clip)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
