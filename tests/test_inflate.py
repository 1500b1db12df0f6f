"""2D-to-3D inflation: the static-clip properties of 'center' and 'mean', ours and mmdet's
layouts (foreign ones: test_foreign_weights.py), its report, and mmaction2's
``pretrained``/``pretrained2d``."""
import math

import pytest
import torch
import torch.nn as nn

from mmbackbones.checkpoint import CheckpointMismatchError
from mmbackbones.checkpoint.inflate import inflate_pretrained, inflate_state_dict, inflate_weight
from mmbackbones.models import ResNet, ResNet3d
from mmbackbones.models.layers import BasicBlock

from conftest import I3D, randomize

FRAME = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))

def static_clip(frames: int) -> torch.Tensor:
    return FRAME.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()


def features_2d(model: nn.Module) -> tuple:
    with torch.no_grad():
        return model.eval()(FRAME)


def features_3d(model: ResNet3d, frames: int) -> tuple:
    with torch.no_grad():
        return model.eval()(static_clip(frames))


def assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal up to float32 summation order, relative to the features' scale."""
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * max(1.0, b.abs().max().item()))


def interior_steps(model: ResNet3d, frames: int) -> list[range]:
    """Per output: the time steps whose temporal receptive field holds no temporal padding,
    followed through every conv/pool of the main path and the shortcut."""

    def through(valid, layer):
        first, last, length = valid
        k, s, p = (v if isinstance(v, int) else v[0]
                   for v in (layer.kernel_size, layer.stride, layer.padding))
        out_len = (length + 2 * p - k) // s + 1
        # output t reads input steps t*s - p .. t*s - p + k - 1
        return (math.ceil((first + p) / s), min((last + p - k + 1) // s, out_len - 1), out_len)

    def block(valid, blk):
        main = valid
        for conv in (blk.conv1, blk.conv2) + ((blk.conv3, ) if hasattr(blk, 'conv3') else ()):
            main = through(main, conv)
        short = through(valid, blk.downsample[0]) if blk.downsample is not None else valid
        assert main[2] == short[2]
        return (max(main[0], short[0]), min(main[1], short[1]), main[2])

    valid = through((0, frames - 1, frames), model.conv1)
    if isinstance(model.maxpool, nn.MaxPool3d):
        valid = through(valid, model.maxpool)
    steps = []
    for i, layer in enumerate(model.stages()):
        for blk in layer:
            valid = block(valid, blk)
        if i == 0 and isinstance(model.pool2, nn.MaxPool3d):
            valid = through(valid, model.pool2)
        steps.append(range(valid[0], valid[1] + 1))
    return [steps[i] for i in model.out_indices]


def inflated_from_ours(cfg3d: dict, method: str, tmp_path, layout: str = 'ours'):
    """Our 2D ResNet (random weights) saved in ``layout``; the 3D network inflated from it."""
    model3d = ResNet3d(**cfg3d)
    model2d = randomize(ResNet(depth=cfg3d['depth'], base_channels=cfg3d.get('base_channels', 64),
                               style=cfg3d.get('style', 'pytorch')))
    state = model2d.state_dict()
    if layout == 'mmdet':  # a detector checkpoint: backbone + neck/head keys, meta
        state = {f'backbone.{k}': v for k, v in state.items()}
        state['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 256, 1, 1)
        state = {'meta': {'mmdet_version': '3.3.0'}, 'state_dict': state}
    path = tmp_path / f'{layout}.pth'
    torch.save(state, path)
    report = inflate_pretrained(model3d, str(path), method=method)
    return model3d, model2d, report


@pytest.mark.parametrize('cfg', [
    dict(depth=50, base_channels=16, **I3D),
    dict(depth=50, base_channels=16, inflate_style='3x3x3', style='caffe',
         temporal_strides=(1, 2, 2, 1), dilations=(1, 1, 2, 2), spatial_strides=(1, 2, 1, 1)),
    dict(depth=18, base_channels=16, conv1_kernel=(3, 7, 7), with_pool2=False,
         temporal_strides=(1, 2, 2, 2)),
])
@pytest.mark.parametrize('layout', ['ours', 'mmdet'])
def test_center_static_clip_gives_2d_features_at_every_step(cfg, layout, tmp_path):
    if cfg.get('dilations'):  # the 2D twin must be dilated the same way
        model3d = ResNet3d(**cfg)
        model2d = randomize(ResNet(depth=50, base_channels=16, style='caffe',
                                   strides=(1, 2, 1, 1), dilations=(1, 1, 2, 2)))
        inflate_state_dict(model3d, model2d.state_dict(), method='center')
    else:
        model3d, model2d, _ = inflated_from_ours(cfg, 'center', tmp_path, layout)
    expected = features_2d(model2d)
    for out3d, out2d in zip(features_3d(model3d, 8), expected):
        assert out3d.shape[2] >= 1
        for t in range(out3d.shape[2]):
            assert_close(out3d[:, :, t], out2d)


@pytest.mark.parametrize('cfg,frames', [
    (dict(depth=50, base_channels=16, conv1_kernel=(3, 7, 7), with_pool2=False,
          inflate=(1, (1, 0, 0, 0), (0, 1, 0, 0, 0, 0), 0)), 16),
    (dict(depth=18, base_channels=16, conv1_kernel=(5, 7, 7), inflate=(0, (0, 1), (1, 0), 0),
          temporal_strides=(1, 2, 1, 1)), 48),
    (dict(depth=50, base_channels=16, inflate_style='3x3x3', inflate=(0, 0, (1, 0, 0, 0, 0, 1), 1),
          conv1_kernel=(1, 7, 7)), 24),
])
def test_mean_static_clip_gives_2d_features_inside_the_clip(cfg, frames, tmp_path):
    model3d, model2d, _ = inflated_from_ours(cfg, 'mean', tmp_path)
    interior = interior_steps(model3d, frames)
    some_edge_differs = False
    for out3d, out2d, steps in zip(features_3d(model3d, frames), features_2d(model2d), interior):
        assert len(steps) > 0, 'the clip is too short to have steps away from the padding'
        for t in range(out3d.shape[2]):
            if t in steps:
                assert_close(out3d[:, :, t], out2d)
            else:
                some_edge_differs |= not torch.allclose(out3d[:, :, t], out2d, atol=1e-3)
    # zero temporal padding changes the ends: the test would notice a wrong interior
    assert some_edge_differs


def test_inflate_weight_methods():
    w = torch.randn(4, 3, 3, 3)
    mean, center, repeat = (inflate_weight(w, 5, m) for m in ('mean', 'center', 'repeat'))
    assert mean.shape == center.shape == repeat.shape == (4, 3, 5, 3, 3)
    for t in range(5):
        torch.testing.assert_close(mean[:, :, t], w / 5)
        torch.testing.assert_close(repeat[:, :, t], w)
        assert torch.equal(center[:, :, t], w if t == 2 else torch.zeros_like(w))
    with pytest.raises(ValueError, match=r"method='sum'.*'mean', 'center', 'repeat'"):
        inflate_weight(w, 3, 'sum')


def test_repeat_scales_the_static_response_by_the_temporal_kernel(tmp_path):
    cfg = dict(depth=18, base_channels=8, inflate=0, conv1_kernel=(3, 7, 7))
    model3d, model2d, report = inflated_from_ours(cfg, 'repeat', tmp_path)
    assert report.method == 'repeat'
    # only the stem has a temporal kernel (3): its static response is 3x the 2D one
    torch.testing.assert_close(model3d.conv1.weight.sum(2), 3 * model2d.conv1.weight)
    with torch.no_grad():
        out3d = model3d.conv1(static_clip(5))[:, :, 2]
        torch.testing.assert_close(out3d, 3 * model2d.conv1(FRAME), rtol=1e-4, atol=1e-4)


def test_report_lists_inflated_copied_untouched_and_unused():
    model2d = ResNet(depth=50, base_channels=16)
    model3d = ResNet3d(depth=50, base_channels=16, num_stages=3, non_local=(0, (1, 0, 0, 0), 0))
    state = dict(model2d.state_dict(), **{'fc.weight': torch.zeros(10, 512)})
    report = inflate_state_dict(model3d, state, method='mean')
    convs = [k for k, v in model3d.state_dict().items() if v.dim() == 5 and 'non_local' not in k]
    assert sorted(report.inflated) == sorted(convs)
    assert 'bn1.running_var' in report.copied and 'layer1.0.bn3.weight' in report.copied
    assert report.untouched and all('non_local3d' in k for k in report.untouched)
    assert 'fc.weight' in report.unused and 'layer4.0.conv1.weight' in report.unused
    text = report.format()
    assert "method 'mean'" in text and 'left untouched in the 3D model' in text


def test_wrong_checkpoint_fails_with_the_report():
    with pytest.raises(CheckpointMismatchError,
                       match=r'(?s)shape mismatch \(skipped\): 100.*min_match=50%'):
        inflate_state_dict(ResNet3d(depth=18, base_channels=16),
                           ResNet(depth=18, base_channels=32).state_dict())
    with pytest.raises(ValueError, match=r"method='i3d'"):
        inflate_state_dict(ResNet3d(depth=18, base_channels=16), {}, method='i3d')


def test_mmaction_pretrained2d_inflates_with_mean_in_init_weights(tmp_path):
    model2d = randomize(ResNet(depth=18, base_channels=16))
    path = tmp_path / 'r18.pth'
    torch.save(model2d.state_dict(), path)
    model3d = ResNet3d(depth=18, base_channels=16, pretrained=str(path), pretrained2d=True)
    model3d.init_weights()
    torch.testing.assert_close(model3d.layer1[0].conv1.weight,
                               inflate_weight(model2d.layer1[0].conv1.weight, 3, 'mean'))
    torch.testing.assert_close(model3d.bn1.running_mean, model2d.bn1.running_mean)
    assert isinstance(model3d.layer1[0], BasicBlock)


def test_mmaction_pretrained_3d_checkpoint(tmp_path):
    source = randomize(ResNet3d(depth=18, base_channels=16))
    path = tmp_path / 'r3d.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    model3d = ResNet3d(depth=18, base_channels=16, pretrained=str(path), pretrained2d=False)
    model3d.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(model3d.state_dict()[k], v), k
