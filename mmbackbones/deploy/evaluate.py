"""Evaluate a trained model with its backbone deployed: int8 (torchao), OpenVINO or onnxruntime.

``tools/test.py CONFIG CKPT --precision int8 [--backend openvino]`` registers
:class:`DeployBackboneHook`: after the checkpoint is loaded and before the test loop runs, the
hook calibrates on the config's *training* batches (through the model's own data preprocessor,
so the batches are normalized and padded as at test time), replaces ``model.backbone`` with the
deployed one and evaluates with the config's own metric. Everything else (neck, head,
post-processing) stays in float PyTorch.
"""
from __future__ import annotations

import os.path as osp
import tempfile

import torch
import torch.nn as nn
from mmengine.hooks import Hook

from .export import export
from .inference import optimize
from .onnx_backbone import OnnxBackbone
from .openvino_backbone import OpenVinoBackbone

BACKENDS = ('pytorch', 'openvino', 'onnxruntime')
PRECISIONS = ('fp32', 'int8')


def training_inputs(runner, model: nn.Module, num_batches: int) -> list[torch.Tensor]:
    """``num_batches`` batches of the config's train dataloader after ``model``'s data
    preprocessor (the backbone's inputs)."""
    loader = runner.build_dataloader(runner.cfg.train_dataloader)
    batches = []
    with torch.no_grad():
        for data in loader:
            inputs = model.data_preprocessor(data, False)['inputs']
            batches.append(inputs.detach().float())
            if len(batches) == num_batches:
                break
    return batches


def deploy_backbone(backbone: nn.Module, precision: str, backend: str,
                    calibration: list[torch.Tensor]) -> tuple[nn.Module, str]:
    """``(deployed backbone, one line saying what it is)``."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision={precision!r}; allowed: {PRECISIONS}.')
    if backend not in BACKENDS:
        raise ValueError(f'backend={backend!r}; allowed: {BACKENDS}.')
    backbone.eval()
    if backend == 'pytorch':
        if precision == 'fp32':
            return backbone, 'float PyTorch backbone'
        quantized, record = optimize(backbone, precision='int8', calibration=calibration)
        return quantized, str(record)
    backbone.switch_to_deploy()
    shape = tuple(calibration[0].shape)
    fmt = 'openvino' if backend == 'openvino' else 'onnx'
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'backbone.xml' if fmt == 'openvino' else 'backbone.onnx')
        result = export(backbone, path, fmt, shape, dynamic=True, int8=precision == 'int8',
                        calibration=[b for b in calibration if tuple(b.shape[1:]) == shape[1:]]
                        if precision == 'int8' else None)
        if fmt == 'onnx':
            deployed: nn.Module = OnnxBackbone(path)
            runs = precision
        else:
            deployed = OpenVinoBackbone(path, precision_hint='f32' if precision == 'fp32'
                                        else None)
            runs = deployed.precision
    return deployed, (f'{backend} {precision} backbone (runs {runs}); checked against eager at '
                      f'{result.checked_shapes}: {result.max_abs_diff}')


class DeployBackboneHook(Hook):
    """Replaces ``model.backbone`` with its deployed form before the test loop.

    Args:
        precision: ``'fp32'`` or ``'int8'``.
        backend: ``'pytorch'`` (torchao int8), ``'openvino'`` or ``'onnxruntime'``.
        calibration_batches: How many training batches calibrate int8.
    """

    priority = 'VERY_LOW'

    def __init__(self, precision: str = 'int8', backend: str = 'pytorch',
                 calibration_batches: int = 4) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'precision={precision!r}; allowed: {PRECISIONS}.')
        if backend not in BACKENDS:
            raise ValueError(f'backend={backend!r}; allowed: {BACKENDS}.')
        if calibration_batches < 1:
            raise ValueError(f'calibration_batches={calibration_batches!r}; allowed: >= 1.')
        self.precision = precision
        self.backend = backend
        self.calibration_batches = calibration_batches
        self.summary = ''

    def before_test(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if not hasattr(model, 'backbone'):
            raise TypeError(f'{type(model).__name__} has no backbone to deploy.')
        model.eval()
        calibration = training_inputs(runner, model, self.calibration_batches) \
            if self.precision == 'int8' else [self._example(runner, model)]
        model.backbone, self.summary = deploy_backbone(model.backbone, self.precision,
                                                       self.backend, calibration)
        runner.logger.info(f'deployed backbone: {self.summary}')

    def _example(self, runner, model: nn.Module) -> torch.Tensor:
        return training_inputs(runner, model, 1)[0]
