"""Deploy mode, inference presets and export.

* :func:`fuse_conv_bn` / ``model.switch_to_deploy()``: fold BatchNorm into the declared convs.
* :func:`optimize`: folding + channels_last + native reduced precision (+ ``torch.compile``).
* :func:`export`: ONNX / TorchScript / ``torch.export`` files, verified against eager.
* :class:`OnnxBackbone`: an exported backbone run by onnxruntime, same outputs and contract.
"""
from .export import FORMATS, ExportError, ExportResult, export, why_no_onnx
from .fuse import FuseReport, declared_pairs, fuse_conv_bn, switch_to_deploy
from .inference import (
    InferenceModel,
    OptimizeRecord,
    choose_precision,
    cpu_flags,
    cpu_has_native_bf16,
    hardware_summary,
    optimize,
)
from .onnx_backbone import OnnxBackbone

__all__ = [
    'FORMATS', 'ExportError', 'ExportResult', 'FuseReport', 'InferenceModel', 'OnnxBackbone',
    'OptimizeRecord', 'choose_precision', 'cpu_flags', 'cpu_has_native_bf16', 'declared_pairs',
    'export', 'fuse_conv_bn', 'hardware_summary', 'optimize', 'switch_to_deploy', 'why_no_onnx'
]
