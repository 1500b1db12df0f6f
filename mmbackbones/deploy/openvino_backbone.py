"""An exported backbone run by OpenVINO, usable where the PyTorch backbone was.

OpenVINO reads our dynamo-exported ONNX file directly (``Core.read_model``) and writes its own IR
(``.xml`` + ``.bin``); ``tools/deployment/export.py MODEL --format openvino [--int8]`` makes the
IR (int8: NNCF post-training quantization) and checks it against eager PyTorch. Intel supports
OpenVINO's CPU plugin on Intel CPUs; it also runs on AMD x86 CPUs, without support.
"""
from __future__ import annotations

import importlib.util

import torch

from .onnx_backbone import ExportedBackbone

INSTALL_OPENVINO = 'pip install openvino nncf  (or tools/install.sh --with-openvino)'
RT_SECTION = 'mmbackbones'  # where our metadata lives in the IR's rt_info
HINTS = (None, 'f32', 'bf16', 'f16')
PERFORMANCE_HINTS = (None, 'LATENCY', 'THROUGHPUT')


def why_no_openvino(nncf: bool = False) -> str | None:
    """Why the OpenVINO path (and NNCF int8, with ``nncf=True``) is unavailable, or None."""
    missing = [m for m in ('openvino', ) + (('nncf', ) if nncf else ())
               if importlib.util.find_spec(m) is None]
    if missing:
        return f'{", ".join(missing)} not installed ({INSTALL_OPENVINO})'
    return None


def set_metadata(ov_model, meta: dict[str, str]) -> None:
    """Store :func:`~mmbackbones.deploy.export.backbone_metadata` in the IR's ``rt_info``."""
    for key, value in meta.items():
        ov_model.set_rt_info(value, [RT_SECTION, key])


def get_metadata(ov_model) -> dict[str, str]:
    meta = {}
    if ov_model.has_rt_info([RT_SECTION]):
        for key in ('mmbackbones_type', 'example_input_shape', 'out_channels', 'out_strides',
                    'out_indices', 'precision'):
            if ov_model.has_rt_info([RT_SECTION, key]):
                meta[key] = ov_model.get_rt_info([RT_SECTION, key]).astype(str)
    return meta


class OpenVinoBackbone(ExportedBackbone):
    """Runs an OpenVINO IR (``.xml``) or ONNX file written by ``tools/deployment/export.py``.

    It takes the same input and returns the same tuple as the backbone it was exported from, and
    publishes the same ``out_channels``/``out_strides``/``output_shape()`` (stored in the IR's
    ``rt_info`` at export), so necks such as ``FPN.from_backbone`` accept it. Inference only.

    Args:
        path: The ``.xml`` IR (its ``.bin`` beside it) or an ``.onnx`` file.
        threads: CPU inference threads (default: ``torch.get_num_threads()``).
        precision_hint: OpenVINO's ``INFERENCE_PRECISION_HINT``: ``None`` (OpenVINO's default:
            bf16 on CPUs with native bf16, else f32), ``'f32'``, ``'bf16'`` or ``'f16'``. An int8
            IR runs its quantized layers in int8 whatever the hint.
        performance_hint: OpenVINO's ``PERFORMANCE_HINT``: ``None`` (OpenVINO's default),
            ``'LATENCY'`` (one request on every thread: what one synchronous caller wants) or
            ``'THROUGHPUT'`` (the threads split into streams for parallel requests; a single
            synchronous request then gets a share of them).
        device: OpenVINO device name.

    Example:
        >>> backbone = OpenVinoBackbone('resnet50.xml')
        >>> neck = FPN.from_backbone(backbone, out_channels=256, num_outs=5)
        >>> feats = neck(backbone(torch.rand(1, 3, 224, 224)))
    """

    def __init__(self, path: str, threads: int | None = None, precision_hint: str | None = None,
                 device: str = 'CPU', performance_hint: str | None = None) -> None:
        super().__init__()
        reason = why_no_openvino()
        if reason is not None:
            raise ImportError(f'OpenVinoBackbone needs {reason}.')
        if precision_hint not in HINTS:
            raise ValueError(f'precision_hint={precision_hint!r}; allowed: {HINTS}.')
        if performance_hint not in PERFORMANCE_HINTS:
            raise ValueError(f'performance_hint={performance_hint!r}; allowed: '
                             f'{PERFORMANCE_HINTS}.')
        import openvino as ov
        core = ov.Core()
        ov_model = core.read_model(path)
        meta = get_metadata(ov_model)
        if not meta and path.endswith('.onnx'):
            meta = _onnx_metadata(path)
        config = {'INFERENCE_NUM_THREADS': int(threads or torch.get_num_threads())}
        if precision_hint is not None:
            config['INFERENCE_PRECISION_HINT'] = precision_hint
        if performance_hint is not None:
            config['PERFORMANCE_HINT'] = performance_hint
        self.compiled = core.compile_model(ov_model, device, config)
        hint = self.compiled.get_property('INFERENCE_PRECISION_HINT')
        self.precision = hint.get_type_name() if hasattr(hint, 'get_type_name') else str(hint)
        #: The performance hint OpenVINO compiled with (``LATENCY`` or ``THROUGHPUT``).
        self.performance_hint = str(self.compiled.get_property('PERFORMANCE_HINT')).split('.')[-1]
        self.request = self.compiled.create_infer_request()
        self._publish(path, meta, len(self.compiled.outputs))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        array = x.detach().to('cpu', torch.float32).contiguous().numpy()
        results = self.request.infer({0: array})
        return tuple(torch.from_numpy(results[out].copy()).to(x.device)
                     for out in self.compiled.outputs)


def _onnx_metadata(path: str) -> dict[str, str]:
    import onnx
    proto = onnx.load(path, load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}
