"""Export matrix: every registered backbone type (and the FPN) through FX, TorchScript tracing,
``torch.export``, ONNX + onnxruntime and ``torch.compile(fullgraph=True)``, each compared with
eager; plus tools/deployment/export.py and OnnxBackbone.

Every cell runs the deployed (BN-folded) model with randomized weights and statistics. A cell that
is expected to fail is listed in ``EXPECTED_FAILURES`` with the reason (strict xfail: it must keep
failing) and in docs/deploy.md. ``torch.compile`` cells use the ``aot_eager`` backend (dynamo's
full-graph capture and AOT autograd tracing, without inductor's slow C++ code generation), once
per forward implementation (ResNetV1c/V1d/CIFAR share ResNet's); one ResNet cell also runs
inductor.
"""
from __future__ import annotations

import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn as nn

from mmbackbones.deploy import ExportError, OnnxBackbone, export, why_no_onnx
from mmbackbones.models import FPN, ResNet
from mmbackbones.registry import MODELS

from conftest import assert_features_close, build_backbone, randomize, registered_backbones

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TYPES = [n for n in registered_backbones() if isinstance(MODELS.get(n), type)] + ['FPN']
CELLS = ('fx', 'jit_trace', 'torch_export', 'onnx', 'compile')
#: (type, cell) -> why it fails; the test then must fail with an error (strict xfail).
EXPECTED_FAILURES: dict[tuple[str, str], str] = {
    ('FPN', 'fx'): ("FPN.forward checks len(inputs) against its levels; FX's symbolic tracing "
                    "cannot take len() of a traced list (use torch.export or jit.trace)"),
}
ONNX_SKIP = why_no_onnx()


def _model_and_input(name: str) -> tuple[nn.Module, object]:
    if name == 'FPN':
        model = FPN(in_channels=[8, 16], out_channels=8, num_outs=3, norm_cfg=dict(type='BN'))
        x = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8)]
    else:
        model = build_backbone(name)
        shape = list(model.example_input_shape)
        shape[-2:] = [min(s, 64) for s in shape[-2:]]
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    randomize(model).eval()
    model.switch_to_deploy()
    return model, x


def _run_cell(cell: str, model: nn.Module, x, tmp_path) -> tuple:
    args = (x, )
    if cell == 'fx':
        return torch.fx.symbolic_trace(model)(x)
    if cell == 'jit_trace':
        return torch.jit.trace(model, args, check_trace=False)(x)
    if cell == 'torch_export':
        return torch.export.export(model, args).module()(x)
    if cell == 'compile':
        torch._dynamo.reset()
        return torch.compile(model, fullgraph=True, backend='aot_eager')(x)
    if cell == 'onnx':
        if ONNX_SKIP is not None:
            pytest.skip(f'ONNX cell: {ONNX_SKIP}')
        path = str(tmp_path / 'model.onnx')
        export(model, path, 'onnx', tuple(x.shape), dynamic=True)  # verifies 2 shapes itself
        return OnnxBackbone(path)(x)
    raise AssertionError(cell)


#: Types whose forward is ResNet's own (stem variants only): compiled through ResNet.
COMPILED_AS = {'ResNetV1c': 'ResNet', 'ResNetV1d': 'ResNet', 'ResNet_CIFAR': 'ResNet'}


def _cells():
    for name in TYPES:
        for cell in CELLS:
            if name == 'FPN' and cell == 'onnx':
                continue  # a list input: covered by test_onnx_backbone_feeds_fpn
            if cell == 'compile' and name in COMPILED_AS:
                continue  # the slowest cell: one per forward implementation
            reason = EXPECTED_FAILURES.get((name, cell))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, cell, marks=marks, id=f'{name}-{cell}')


@pytest.mark.parametrize('name, cell', list(_cells()))
def test_export_matrix(name, cell, tmp_path):
    model, x = _model_and_input(name)
    with torch.no_grad():
        expected = model(x)
        got = _run_cell(cell, model, x, tmp_path)
    rtol, atol = (1e-3, 1e-5) if cell == 'onnx' else (1e-4, 1e-5)
    assert_features_close(tuple(got), tuple(expected), atol=atol, rtol=rtol)


def test_compile_inductor_resnet(no_grad_eval):
    """One representative model through inductor's code generation (slow on CPU)."""
    model, x = _model_and_input('ResNet')
    torch._dynamo.reset()
    got = torch.compile(model, fullgraph=True)(x)
    assert_features_close(tuple(got), tuple(model(x)), atol=1e-5, rtol=1e-4)


@pytest.mark.skipif(ONNX_SKIP is not None, reason=f'ONNX: {ONNX_SKIP}')
def test_onnx_backbone_feeds_fpn(tmp_path, no_grad_eval):
    model, x = _model_and_input('ResNet')
    path = str(tmp_path / 'r18.onnx')
    export(model, path, 'onnx', (1, 3, 64, 64), dynamic=True)
    onnx_backbone = OnnxBackbone(path)
    assert onnx_backbone.out_channels == model.out_channels
    assert onnx_backbone.out_strides == model.out_strides
    assert onnx_backbone.output_shape() == model.output_shape()
    neck = FPN.from_backbone(onnx_backbone, out_channels=16, num_outs=5).eval()
    ref_neck = FPN.from_backbone(model, out_channels=16, num_outs=5).eval()
    ref_neck.load_state_dict(neck.state_dict())
    x = torch.randn(3, 3, 96, 80)  # another batch and size than exported with
    assert_features_close(neck(onnx_backbone(x)), ref_neck(model(x)), atol=1e-5, rtol=1e-3)


def test_dcn_export_fails_clearly(monkeypatch):
    class DeformConv2dPack(nn.Conv2d):  # stands in for mmcv.ops' (needs compiled mmcv)
        pass

    DeformConv2dPack.__module__ = 'mmcv.ops.deform_conv'
    model = ResNet(depth=18).eval()
    model.layer1[0].conv2 = DeformConv2dPack(64, 64, 3, padding=1, bias=False)
    for fmt in ('onnx', 'torchscript', 'exported_program'):
        with pytest.raises(ExportError, match='mmcv compiled ops.*layer1.0.conv2.*dcn'):
            export(model, 'unused.onnx', fmt, (1, 3, 64, 64))


def _export_tool():
    spec = importlib.util.spec_from_file_location(
        '_export_tool', osp.join(ROOT, 'tools', 'deployment', 'export.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('fmt', ['torchscript', 'exported_program', 'onnx'])
def test_export_tool_writes_verified_file(fmt, tmp_path, capsys):
    if fmt == 'onnx' and ONNX_SKIP is not None:
        pytest.skip(f'ONNX: {ONNX_SKIP}')
    out = tmp_path / f'model.{fmt}'
    rc = _export_tool().main(['resnet18', '--format', fmt, '--shape', '1', '3', '64', '64',
                              '--dynamic', '--out', str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert out.is_file() and 'max abs diff' in printed
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp file left


def test_export_tool_config_and_deployed_checkpoint(tmp_path, capsys):
    model = randomize(ResNet(depth=18)).eval()
    model.switch_to_deploy()
    ckpt = tmp_path / 'folded.pth'
    torch.save(model.state_dict(), ckpt)
    config = tmp_path / 'cfg.py'
    config.write_text("model = dict(type='ImageClassifier', backbone=dict(type='ResNet', "
                      'depth=18))\n')
    out = tmp_path / 'm.pt2'
    rc = _export_tool().main([str(config), '--format', 'exported_program', '--checkpoint',
                              str(ckpt), '--shape', '1', '3', '64', '64', '--out', str(out)])
    assert rc == 0, capsys.readouterr()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_features_close(torch.export.load(str(out)).module()(x), model(x), 1e-5, 1e-4)


def test_export_tool_rejects_unknown_model(capsys):
    assert _export_tool().main(['no_such_net', '--format', 'onnx']) == 2
    assert "'no_such_net' is neither a config file nor a registered model" in \
        capsys.readouterr().err
