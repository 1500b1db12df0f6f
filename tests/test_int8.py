"""int8 through torchao's PT2E flow: every 2D family and the FPN, the records, bad calibration,
and the accuracy gate of the main job's trained ResNet-18 (torchao int8 vs fp32).

Quantizing is slow (export + calibration; inductor lowering ~10-60 s per model), so each model
is quantized once per module; the family checks use the reference q/dq graph (``lower=False``:
the same int8 rounding, computed in fp32), the lowered int8 kernels are checked on one ResNet and
the FPN, and through ``tools/test.py --precision int8`` on the trained digits model.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmbackbones.deploy import choose_precision, optimize, quantize_int8, why_no_torchao
from mmbackbones.deploy.quantize import _pads_ceil_mode, ceil_max_pool2d
from mmbackbones.models.necks import FPN

from conftest import (
    assert_int8_keeps_accuracy,
    build_backbone,
    digit_canvas_batch,
    digits_predictions,
)

pytestmark = pytest.mark.skipif(why_no_torchao() is not None, reason=str(why_no_torchao()))

FAMILIES = ['ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNeXt', 'Res2Net', 'VGG', 'GoogLeNet']


def cosines(a, b) -> list[float]:
    return [F.cosine_similarity(x.flatten().double(), y.flatten().double(), dim=0).item()
            for x, y in zip(a, b)]


def eval_folded(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_backbone(name).eval()
    model.switch_to_deploy()
    return model


@pytest.fixture(scope='module')
def canvases() -> tuple[list[torch.Tensor], torch.Tensor]:
    """Calibration batches (train canvases) and evaluation batch (val canvases)."""
    return list(torch.split(digit_canvas_batch(8, 'train'), 4)), digit_canvas_batch(4, 'val')


@pytest.mark.parametrize('name', FAMILIES)
def test_family_int8_features_close_to_fp32(name, canvases):
    calibration, x = canvases
    model = eval_folded(name)
    with torch.no_grad():
        ref = model(x)
    q = quantize_int8(model, calibration, lower=False)
    out = q(x)
    assert [o.shape for o in out] == [r.shape for r in ref]
    assert min(cosines(ref, out)) >= 0.99, cosines(ref, out)
    # every 2D conv of the model is int8, none kept in float
    convs = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert set(q.report.quantized) == convs and not q.report.kept
    assert q.out_channels == model.out_channels and q.out_strides == model.out_strides


def test_lowered_resnet_and_fpn(canvases):
    """The inductor-lowered int8 graphs: a ResNet and the FPN on its (int8) features."""
    calibration, x = canvases
    model = eval_folded('ResNet')
    with torch.no_grad():
        ref = model(x)
    q, record = optimize(model, precision='int8', calibration=calibration)
    assert record.precision == 'int8' and 'inductor' in str(record)
    out = q(x)
    assert min(cosines(ref, out)) >= 0.99
    assert len(q(torch.randn(3, 3, 96, 96))) == 4  # another batch and size: recompiles
    neck = FPN.from_backbone(q, out_channels=32, num_outs=5).eval()
    with torch.no_grad():
        feats = [tuple(f) for f in (q(b) for b in calibration)]
        neck_ref = neck(out)
    qneck = quantize_int8(neck, feats)
    assert qneck.report.quantized and not qneck.report.kept
    assert min(cosines(neck_ref, qneck(out))) >= 0.99
    with pytest.raises(RuntimeError, match='cannot train'):
        q.train()


@pytest.mark.parametrize('kernel,stride,padding', [(3, 2, 0), (2, 2, 0), (3, 2, 1), (3, 3, 0),
                                                   (3, 1, 1), ((3, 2), (1, 2), 0)])
def test_ceil_max_pool_as_padded_floor_pool(kernel, stride, padding):
    """What the export traces for a ceil-mode pool equals the pool at every size."""
    pool = torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=True)
    assert _pads_ceil_mode(pool)
    for h, w in [(7, 7), (8, 9), (55, 56), (112, 112), (15, 4)]:
        x = torch.randn(2, 3, h, w)
        assert torch.equal(ceil_max_pool2d(pool, x), pool(x)), (h, w)
    # a stride past the window (PyTorch drops a last window in the padding) is traced as it is
    assert not _pads_ceil_mode(torch.nn.MaxPool2d(1, 2, ceil_mode=True))


def test_lowered_googlenet_keeps_ceil_mode_pool_sizes(canvases):
    """GoogLeNet's ceil-mode pools through inductor's int8 lowering (which drops ceil_mode): at
    64 x 64 every one of its four pools rounds up (32 -> 16, 16 -> 8, 8 -> 4, 4 -> 2), so a
    dropped ceiling changes every stage's shape."""
    calibration, x = canvases
    model = eval_folded('GoogLeNet')
    with torch.no_grad():
        ref = model(x)
    q, _ = optimize(model, precision='int8', calibration=calibration)
    out = q(x)
    assert [o.shape for o in out] == [r.shape for r in ref]
    assert min(cosines(ref, out)) >= 0.99


def test_excluded_and_3d_layers_are_listed(canvases):
    calibration, x = canvases
    q = quantize_int8(eval_folded('ResNet'), calibration, exclude=['conv1', 'layer4'],
                      lower=False)
    kept = dict(q.report.kept)
    assert kept['conv1'] == 'excluded' and kept['layer4.1.conv2'] == 'excluded'
    assert 'conv1' not in q.report.quantized and 'layer1.0.conv1' in q.report.quantized
    model3d = eval_folded('ResNet3d')
    q3d = quantize_int8(model3d, [torch.randn(2, 3, 4, 32, 32)], lower=False)
    assert not q3d.report.quantized
    assert q3d.report.kept and all('conv3d' in why for _, why in q3d.report.kept)


@pytest.mark.parametrize('calibration,error,match', [
    (None, ValueError, 'calibration=None'),
    ([], ValueError, 'calibration is empty'),
    (5, TypeError, 'not iterable'),
    ([torch.zeros(2, 3, 32, 32, dtype=torch.uint8)], TypeError, 'dtype torch.uint8'),
    ([torch.randn(2, 1, 32, 32)], ValueError, '1 channels'),
    ([torch.randn(3, 32, 32)], ValueError, '3-D'),
    (['image.png'], TypeError, 'is a str'),
])
def test_bad_calibration_is_a_clear_error(calibration, error, match):
    with pytest.raises(error, match=match) as info:
        optimize(build_backbone('ResNet').eval(), precision='int8', calibration=calibration)
    assert 'calibration' in str(info.value)


def test_bad_neck_calibration_and_arguments():
    neck = FPN(in_channels=[8, 16], out_channels=8, num_outs=2).eval()
    with pytest.raises(ValueError, match='tuple of 2 feature maps'):
        quantize_int8(neck, [torch.randn(1, 8, 8, 8)])
    with pytest.raises(KeyError, match='no module named'):
        quantize_int8(build_backbone('ResNet').eval(), [torch.randn(1, 3, 64, 64)],
                      exclude=['layer9'])
    with pytest.raises(ValueError, match="for precision='int8'"):
        optimize(build_backbone('ResNet').eval(), precision='bf16',
                 calibration=[torch.randn(1, 3, 64, 64)])


def test_auto_never_picks_int8_and_no_vnni_says_how(monkeypatch):
    """int8 is only ever asked for; without VNNI it runs (AVX2 int8 kernels, measured faster than
    fp32 in docs/benchmarks.md) and the record says so, without a warning."""
    import warnings

    from mmbackbones.utils import hardware
    assert choose_precision('auto', torch.device('cpu'))[0] != 'int8'
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx2'}))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        chosen, why = choose_precision('int8', torch.device('cpu'))
    assert chosen == 'int8' and 'no VNNI' in why and '7 bits' in why, why
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx2', 'avx512_vnni'}))
    assert 'no VNNI' not in choose_precision('int8', torch.device('cpu'))[1]


def test_trained_digits_resnet18_int8_accuracy(trained_digits_resnet18):
    """Accuracy gate: torchao int8 keeps top-1 within 0.5 point of fp32, >= 99% agreement."""
    run = trained_digits_resnet18
    assert_int8_keeps_accuracy(run, digits_predictions(run, 'torchao_int8', '--precision',
                                                       'int8'))
