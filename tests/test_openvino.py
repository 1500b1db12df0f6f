"""The OpenVINO path (IR from our ONNX export; NNCF int8) and the int8 ONNX file (onnxruntime
static QDQ): files written only when verified, the same contract as the PyTorch backbone, and
the accuracy gate of the main job's trained ResNet-18 through both int8 runtimes."""
from __future__ import annotations

import os

import pytest
import torch

from mmbackbones.deploy import ExportError, OnnxBackbone, OpenVinoBackbone, export, why_no_onnx
from mmbackbones.deploy.calibration import calibration_from_spec
from mmbackbones.deploy.openvino_backbone import why_no_openvino
from mmbackbones.models.necks import FPN

from conftest import (
    assert_int8_keeps_accuracy,
    build_backbone,
    digit_canvas_batch,
    digits_predictions,
    tool,
)

NO_OPENVINO = why_no_openvino(nncf=True)
NO_ONNX = why_no_onnx()
needs_openvino = pytest.mark.skipif(NO_OPENVINO is not None or NO_ONNX is not None,
                                    reason=str(NO_OPENVINO or NO_ONNX))
needs_onnx = pytest.mark.skipif(NO_ONNX is not None, reason=str(NO_ONNX))
FAMILIES = ['ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNeXt', 'Res2Net', 'VGG', 'GoogLeNet']


def folded(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_backbone(name).eval()
    model.switch_to_deploy()
    return model


def cosine(a, b) -> float:
    return torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(),
                                                 dim=0).item()


@needs_openvino
@pytest.mark.parametrize('name', FAMILIES)
def test_family_openvino_int8_runs_and_agrees(name, tmp_path):
    model = folded(name)
    calibration = list(torch.split(digit_canvas_batch(4, 'train'), 2))
    path = str(tmp_path / f'{name}.xml')
    result = export(model, path, 'openvino', (2, 3, 64, 64), int8=True, calibration=calibration)
    assert min(result.max_abs_diff) >= 0.99  # the lowest cosine of the verification
    backbone = OpenVinoBackbone(path)
    x = digit_canvas_batch(2, 'val')
    with torch.no_grad():
        ref = model(x)
    out = backbone(x)
    assert backbone.out_channels == model.out_channels
    assert backbone.out_strides == model.out_strides
    assert min(cosine(a, b) for a, b in zip(ref, out)) >= 0.99


@needs_openvino
def test_openvino_fp32_ir_matches_eager_and_feeds_the_fpn(tmp_path):
    model = folded('ResNet')
    path = str(tmp_path / 'r18.xml')
    export(model, path, 'openvino', (1, 3, 64, 64), dynamic=True)
    assert os.path.isfile(str(tmp_path / 'r18.bin'))
    backbone = OpenVinoBackbone(path, precision_hint='f32')
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        ref = model(x)
    for a, b in zip(ref, backbone(x)):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-3)
    neck = FPN.from_backbone(backbone, out_channels=16, num_outs=5)
    assert len(neck(backbone(x))) == 5
    with pytest.raises(ValueError, match='precision_hint'):
        OpenVinoBackbone(path, precision_hint='int4')


@needs_onnx
def test_int8_onnx_runs_and_agrees(tmp_path):
    model = folded('ResNet')
    calibration = list(torch.split(digit_canvas_batch(4, 'train'), 2))
    path = str(tmp_path / 'r18_int8.onnx')
    export(model, path, 'onnx', (2, 3, 64, 64), dynamic=True, int8=True,
           calibration=calibration)
    backbone = OnnxBackbone(path)
    assert backbone.metadata['precision'] == 'int8'
    assert backbone.out_channels == model.out_channels
    x = digit_canvas_batch(3, 'val')
    with torch.no_grad():
        ref = model(x)
    assert min(cosine(a, b) for a, b in zip(ref, backbone(x))) >= 0.99


@needs_onnx
def test_int8_export_refuses_bad_calibration_and_writes_nothing_unverified(tmp_path):
    model = folded('ResNet')
    path = str(tmp_path / 'bad.onnx')
    with pytest.raises(ValueError, match='needs calibration'):
        export(model, path, 'onnx', (2, 3, 64, 64), int8=True)
    with pytest.raises(ValueError, match='calibration: batch 0'):
        export(model, path, 'onnx', (2, 3, 64, 64), int8=True,
               calibration=[torch.randn(2, 3, 32, 32)])
    with pytest.raises(ValueError, match="allowed: \\('onnx', 'openvino'\\)"):
        export(model, path, 'torchscript', (2, 3, 64, 64), int8=True,
               calibration=[torch.randn(2, 3, 64, 64)])
    # an impossible agreement threshold: the verification fails, no file is left behind
    with pytest.raises(ExportError, match='min_cosine'):
        export(model, path, 'onnx', (2, 3, 64, 64), int8=True, min_cosine=1.01,
               calibration=[torch.randn(2, 3, 64, 64)])
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match='neither a positive number'):
        calibration_from_spec(str(tmp_path / 'missing'), (1, 3, 64, 64))


@needs_onnx
def test_export_tool_int8_from_an_image_folder(tmp_path):
    from PIL import Image
    folder = tmp_path / 'images'
    folder.mkdir()
    x = digit_canvas_batch(4, 'train', size=64)
    for i, img in enumerate(x[:, 0]):
        Image.fromarray(((img * 95.85 + 77.85).clamp(0, 255)).byte().numpy()).save(
            folder / f'{i}.png')
    batches = calibration_from_spec(str(folder), (2, 3, 64, 64))
    assert [tuple(b.shape) for b in batches] == [(2, 3, 64, 64)] * 2
    out = str(tmp_path / 'r18_int8.onnx')
    export_tool = tool('deployment/export.py')
    assert export_tool.main(['resnet18', '--format', 'onnx', '--int8', '--calibration',
                             str(folder), '--shape', '2', '3', '64', '64', '--out', out]) == 0
    assert OnnxBackbone(out).metadata['precision'] == 'int8'
    assert export_tool.main(['resnet18', '--format', 'onnx', '--int8', '--out', out]) == 2


@pytest.mark.parametrize('backend', [
    pytest.param('openvino', marks=needs_openvino),
    pytest.param('onnxruntime', marks=needs_onnx)])
def test_trained_digits_resnet18_int8_accuracy(trained_digits_resnet18, backend):
    """Accuracy gate: int8 keeps top-1 within 0.5 point of fp32 with >= 99% agreement."""
    run = trained_digits_resnet18
    assert_int8_keeps_accuracy(run, digits_predictions(run, f'{backend}_int8', '--precision',
                                                       'int8', '--backend', backend))
