"""Deploy mode, inference presets and export.

* :func:`fuse_conv_bn` / ``model.switch_to_deploy()``: fold BatchNorm into the declared convs
  (:mod:`mmbackbones.models.fuse`; a model says how it folds).
* :func:`optimize`: folding + channels_last + native reduced precision (+ ``torch.compile``).
* :func:`export`: ONNX / TorchScript / ``torch.export`` files, verified against eager.
* :class:`OnnxBackbone`: an exported backbone run by onnxruntime, same outputs and contract.
* :class:`OpenVinoBackbone`: an OpenVINO IR (float or NNCF int8) with the same contract.
* :func:`quantize_int8` (``optimize(precision='int8', calibration=...)``): torchao PT2E int8.
* What the CPU can do (:func:`cpu_flags`, ...) is :mod:`mmbackbones.utils.hardware`.
"""
from ..models.fuse import FuseReport, declared_pairs, fuse_conv_bn, switch_to_deploy
from ..utils.hardware import cpu_flags, cpu_has_native_bf16, cpu_has_vnni, hardware_summary
from .compiled import CompiledModel
from .export import FORMATS, ExportError, ExportResult, export, why_no_onnx
from .inference import OptimizeRecord, choose_compile, choose_precision, optimize
from .onnx_backbone import OnnxBackbone
from .openvino_backbone import OpenVinoBackbone, why_no_openvino
from .quantize import QuantizedModel, QuantizeReport, quantize_int8, why_no_torchao
from .wrappers import InferenceModel

__all__ = [
    'CompiledModel', 'FORMATS', 'ExportError', 'ExportResult', 'FuseReport', 'InferenceModel',
    'OnnxBackbone', 'OpenVinoBackbone', 'OptimizeRecord', 'QuantizeReport', 'QuantizedModel',
    'choose_compile', 'choose_precision', 'cpu_flags', 'cpu_has_native_bf16', 'cpu_has_vnni',
    'declared_pairs', 'export', 'fuse_conv_bn', 'hardware_summary', 'optimize', 'quantize_int8',
    'switch_to_deploy', 'why_no_onnx', 'why_no_openvino', 'why_no_torchao'
]
