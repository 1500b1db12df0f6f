"""Export a backbone (ONNX, TorchScript, ``torch.export``) and check it against eager.

Every export is verified in the same call: the exported model runs (onnxruntime for ONNX) on the
example input, and, with ``dynamic=True``, on a second input of another batch size and spatial
size; its outputs must equal the eager model's (``rtol``/``atol``, scaled by the output range).
Files are written to a temporary name next to the target and renamed when complete.

``int8=True`` (with ``calibration`` batches) writes an int8 file instead: ONNX through
onnxruntime's static quantizer (QDQ, per-channel int8 weights, uint8 activations), OpenVINO IR
through NNCF's post-training quantization; it is verified against the float eager model by the
cosine similarity of each output (``min_cosine``), since int8 rounding is not within fp32
tolerances. ``'openvino'`` writes an IR pair (``.xml`` + ``.bin``) converted from the dynamo
ONNX export; each file is renamed into place after the check, the ``.bin`` first.

What cannot export raises :class:`ExportError` with the reason: mmcv's compiled ops (deformable
convs, ``dcn=...``) have no ONNX/``torch.export`` form in PyTorch.
"""
from __future__ import annotations

import contextlib
import json
import os
import os.path as osp
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..utils.fileio import atomic_write_path
from ..utils.fileio import write_atomic as atomic_write
from ..utils.hardware import cpu_has_vnni
from .onnx_backbone import OnnxBackbone
from .openvino_backbone import OpenVinoBackbone, set_metadata, why_no_openvino

FORMATS = ('onnx', 'torchscript', 'exported_program', 'openvino')
INT8_FORMATS = ('onnx', 'openvino')
INSTALL_ONNX = 'pip install onnx onnxruntime onnxscript  (or pip install -e .[deploy])'


class ExportError(RuntimeError):
    """The model cannot be exported in this format, or the export disagrees with eager."""


@dataclass
class ExportResult:
    path: str
    format: str
    max_abs_diff: list[float] = field(default_factory=list)
    checked_shapes: list[tuple[int, ...]] = field(default_factory=list)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two tensors, flattened."""
    a, b = a.detach().double().flatten(), torch.as_tensor(b).detach().double().flatten()
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item()


def compare_cosine(eager: Sequence[torch.Tensor], exported: Sequence[torch.Tensor],
                   min_cosine: float, what: str) -> float:
    """The lowest per-output cosine similarity; raises :class:`ExportError` below
    ``min_cosine`` (the check of an int8 file against the float model)."""
    if len(eager) != len(exported):
        raise ExportError(f'{what}: {len(exported)} outputs, eager has {len(eager)}.')
    worst = 1.0
    for i, (a, b) in enumerate(zip(eager, exported)):
        if tuple(a.shape) != tuple(b.shape):
            raise ExportError(f'{what}: output {i} has shape {tuple(b.shape)}, eager '
                              f'{tuple(a.shape)}.')
        c = cosine(a, b)
        worst = min(worst, c)
        if not c >= min_cosine:
            raise ExportError(f'{what}: output {i} has cosine similarity {c:.4f} to the float '
                              f'model, below min_cosine={min_cosine}.')
    return worst


def why_no_onnx() -> str | None:
    """Why ONNX export/inference is unavailable here, or None."""
    import importlib.util
    missing = [m for m in ('onnx', 'onnxscript', 'onnxruntime')
               if importlib.util.find_spec(m) is None]
    if missing:
        return f'{", ".join(missing)} not installed ({INSTALL_ONNX})'
    return None


def unexportable_modules(model: nn.Module) -> list[str]:
    """Names of modules built on mmcv's compiled ops (deformable convs and the like)."""
    return [f'{name} ({type(m).__name__})' for name, m in model.named_modules()
            if type(m).__module__.startswith('mmcv.ops')]


def check_exportable(model: nn.Module, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f'format={fmt!r}; allowed: {FORMATS}.')
    bad = unexportable_modules(model)
    if bad:
        raise ExportError(
            f'{type(model).__name__} uses mmcv compiled ops that {fmt} export does not support: '
            f'{", ".join(bad[:4])}{" ..." if len(bad) > 4 else ""}. Deformable convs (dcn=...) '
            'cannot be exported; build the model without dcn (or use mmdeploy with its custom '
            'onnxruntime ops).')


def dynamic_dims(ndim: int) -> dict[int, object]:
    """Batch and every spatial (and temporal) dim of an ``ndim``-D input, as export dims."""
    dim = torch.export.Dim.DYNAMIC
    return {i: dim for i in [0] + list(range(2, ndim))}


def trace_input(x: torch.Tensor, dynamic: bool) -> torch.Tensor:
    """The input to trace with: for a dynamic export, dims of size 1 become 2 (torch.export
    specialises a dim whose example size is 0 or 1 instead of keeping it dynamic)."""
    if not dynamic:
        return x
    dims = dynamic_dims(x.dim())
    shape = [max(2, s) if i in dims else s for i, s in enumerate(x.shape)]
    return x if list(x.shape) == shape else torch.randn(*shape)


def second_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Another input shape to verify a dynamic export with: batch + 1, spatial + 32."""
    return (shape[0] + 1, shape[1], *(s + 32 if i >= len(shape) - 2 else s
                                      for i, s in enumerate(shape[2:], start=2)))


def outputs_tuple(out) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out, )


def compare(eager: Sequence[torch.Tensor], exported: Sequence[torch.Tensor], rtol: float,
            atol: float, what: str) -> float:
    """Max abs diff of two output tuples; raises :class:`ExportError` beyond tolerance."""
    if len(eager) != len(exported):
        raise ExportError(f'{what}: {len(exported)} outputs, eager has {len(eager)}.')
    worst = 0.0
    for i, (a, b) in enumerate(zip(eager, exported)):
        b = torch.as_tensor(b)
        if tuple(a.shape) != tuple(b.shape):
            raise ExportError(f'{what}: output {i} has shape {tuple(b.shape)}, eager '
                              f'{tuple(a.shape)}.')
        a, b = a.detach().float(), b.detach().float()
        diff = (a - b).abs().max().item() if a.numel() else 0.0
        worst = max(worst, diff)
        scale = max(1.0, a.abs().max().item() if a.numel() else 0.0)
        if not torch.allclose(b, a, rtol=rtol, atol=atol * scale):
            raise ExportError(f'{what}: output {i} differs from eager by up to {diff:.3g} '
                              f'(rtol={rtol}, atol={atol} x {scale:.3g}).')
    return worst


def backbone_metadata(model: nn.Module, input_shape: Sequence[int]) -> dict[str, str]:
    """What :class:`~mmbackbones.deploy.OnnxBackbone` needs to stand in for ``model``."""
    meta = {'mmbackbones_type': type(model).__name__,
            'example_input_shape': json.dumps(list(input_shape))}
    for key in ('out_channels', 'out_strides', 'out_indices'):
        value = getattr(model, key, None)
        if isinstance(value, (tuple, list)):
            meta[key] = json.dumps([int(v) for v in value])
    return meta


# ---------------------------------------------------------------- formats
def _export_onnx(model: nn.Module, x: torch.Tensor, dynamic: bool, tmp: str) -> None:
    reason = why_no_onnx()
    if reason is not None:
        raise ExportError(f'ONNX export needs {reason}.')
    import onnx
    with torch.no_grad():
        n_out = len(outputs_tuple(model(x)))
    kwargs = dict(dynamic_shapes=(dynamic_dims(x.dim()), )) if dynamic else {}
    program = torch.onnx.export(model, (trace_input(x, dynamic), ), dynamo=True,
                                input_names=['input'],
                                output_names=[f'out{i}' for i in range(n_out)], **kwargs)
    program.save(tmp)
    proto = onnx.load(tmp)
    for key, value in backbone_metadata(model, tuple(x.shape)).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, tmp)


class _Batches:
    """onnxruntime's ``CalibrationDataReader`` protocol over a list of tensors."""

    def __init__(self, name: str, batches: Sequence[torch.Tensor]) -> None:
        self.items = iter([{name: b.float().contiguous().numpy()} for b in batches])

    def get_next(self):
        return next(self.items, None)


def quantize_onnx(float_path: str, path: str, calibration: Sequence[torch.Tensor]) -> None:
    """onnxruntime static quantization of ``float_path`` into ``path``: QDQ, int8 weights per
    output channel, uint8 activations (the x86 u8 x s8 kernels), ranges from ``calibration``;
    the backbone metadata is carried over. On a CPU without VNNI the weights take 7 bits
    (onnxruntime's ``reduce_range``, its advice there: AVX2's u8 x s8 pair sums saturate in 16
    bits; with 8 bits the trained digits ResNet-18 fell to cosine 0.989 on an AVX2-only EPYC)."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = path + '.prep.onnx'
    try:
        quant_pre_process(float_path, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, path, _Batches('input', calibration),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        reduce_range=not cpu_has_vnni())
    finally:
        if osp.exists(prepared):
            os.remove(prepared)
    meta = {p.key: p.value for p in onnx.load(float_path, load_external_data=False).metadata_props}
    proto = onnx.load(path)
    del proto.metadata_props[:]
    for key, value in dict(meta, precision='int8').items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def _run_onnx(path: str, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return OnnxBackbone(path)(x)


def _export_torchscript(model: nn.Module, x: torch.Tensor, dynamic: bool, tmp: str) -> None:
    with torch.no_grad():
        traced = torch.jit.trace(model, (x, ), check_trace=False)
    torch.jit.save(traced, tmp)


def _run_torchscript(path: str, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return outputs_tuple(torch.jit.load(path)(x))


def _export_program(model: nn.Module, x: torch.Tensor, dynamic: bool, tmp: str) -> None:
    kwargs = dict(dynamic_shapes=(dynamic_dims(x.dim()), )) if dynamic else {}
    program = torch.export.export(model, (trace_input(x, dynamic), ), **kwargs)
    torch.export.save(program, tmp)


def _run_program(path: str, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return outputs_tuple(torch.export.load(path).module()(x))


def _export_openvino(model: nn.Module, x: torch.Tensor, dynamic: bool, tmp: str,
                     calibration: Sequence[torch.Tensor] | None = None) -> None:
    """The dynamo ONNX export, read by OpenVINO, NNCF-quantized with ``calibration``, saved as
    the IR ``tmp`` (``.xml``) + its ``.bin``."""
    reason = why_no_openvino(nncf=calibration is not None)
    if reason is not None:
        raise ExportError(f'OpenVINO export needs {reason}.')
    import openvino as ov
    with tempfile.TemporaryDirectory() as work:
        onnx_path = osp.join(work, 'model.onnx')
        _export_onnx(model, x, dynamic, onnx_path)
        ov_model = ov.Core().read_model(onnx_path)
        meta = backbone_metadata(model, tuple(x.shape))
        if calibration is not None:
            import nncf
            data = nncf.Dataset([b.float().contiguous().numpy() for b in calibration])
            ov_model = nncf.quantize(ov_model, data, subset_size=len(calibration))
            meta['precision'] = 'int8'
        set_metadata(ov_model, meta)
        ov.save_model(ov_model, tmp, compress_to_fp16=False)


def _run_openvino(path: str, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return OpenVinoBackbone(path, precision_hint='f32')(x)


_EXPORTERS = {
    'onnx': (_export_onnx, _run_onnx),
    'torchscript': (_export_torchscript, _run_torchscript),
    'exported_program': (_export_program, _run_program),
    'openvino': (_export_openvino, _run_openvino),
}


def export(model: nn.Module, path: str, fmt: str, input_shape: Sequence[int], *,
           dynamic: bool = False, rtol: float = 1e-3, atol: float = 1e-5, int8: bool = False,
           calibration: Sequence[torch.Tensor] | None = None,
           min_cosine: float = 0.99) -> ExportResult:
    """Export ``model`` (in eval mode, as it is) to ``path`` and verify it against eager.

    Args:
        model: The model to export; call ``switch_to_deploy()`` first for a folded export.
        path: Output file; written atomically. For ``'openvino'`` the ``.xml`` IR (its
            ``.bin`` is written beside it).
        fmt: ``'onnx'`` (the dynamo exporter; needs onnx, onnxscript, onnxruntime),
            ``'torchscript'`` (``torch.jit.trace``), ``'exported_program'``
            (``torch.export``, ``.pt2``) or ``'openvino'`` (IR converted from the ONNX export;
            needs openvino).
        input_shape: Example input shape, e.g. ``(1, 3, 224, 224)``.
        dynamic: Dynamic batch and spatial size (checked on a second shape).
        rtol: Relative tolerance against eager.
        atol: Absolute tolerance against eager, scaled by ``max(1, max |eager output|)``.
        int8: Write an int8 file (``'onnx'``: onnxruntime static QDQ; ``'openvino'``: NNCF).
        calibration: For ``int8``: input batches (normalized tensors) for the activation
            ranges.
        min_cosine: For ``int8``: the lowest cosine similarity to eager accepted per output.

    Returns:
        An :class:`ExportResult` with the max abs diff (for int8: the lowest cosine
        similarity) per checked input shape.

    Raises:
        ExportError: Unsupported modules, exporter failure, or outputs that disagree.

    Example:
        >>> result = export(ResNet(depth=18).eval(), 'r18.onnx', 'onnx', (1, 3, 224, 224))
        >>> result.checked_shapes
        [(1, 3, 224, 224)]
    """
    check_exportable(model, fmt)
    if int8:
        if fmt not in INT8_FORMATS:
            raise ValueError(f'int8=True with format={fmt!r}; allowed: {INT8_FORMATS}.')
        if calibration is None or isinstance(calibration, torch.Tensor) or not len(calibration):
            raise ValueError('int8=True needs calibration: a non-empty list of input batches '
                             f'(got {type(calibration).__name__}).')
        for i, batch in enumerate(calibration):
            if not isinstance(batch, torch.Tensor) or not batch.is_floating_point() or \
                    tuple(batch.shape[1:]) != tuple(input_shape[1:]):
                raise ValueError(
                    f'calibration: batch {i} is '
                    f'{tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch)}; '
                    f'allowed: float tensors of shape (N, {", ".join(map(str, input_shape[1:]))}).')
    elif calibration is not None:
        raise ValueError('calibration is for int8=True.')
    model.eval()
    build, run = _EXPORTERS[fmt]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*input_shape, generator=gen)
    shapes = [tuple(input_shape)] + ([second_shape(input_shape)] if dynamic else [])

    def make(tmp: str) -> None:
        try:
            if fmt == 'openvino':
                build(model, x, dynamic, tmp, calibration if int8 else None)
            elif int8:  # onnx
                with tempfile.TemporaryDirectory() as work:
                    float_path = osp.join(work, 'float.onnx')
                    build(model, x, dynamic, float_path)
                    quantize_onnx(float_path, tmp, calibration)
            else:
                build(model, x, dynamic, tmp)
        except ExportError:
            raise
        except Exception as err:  # noqa: BLE001 - the exporters raise many types
            raise ExportError(f'{fmt}{" int8" if int8 else ""} export of '
                              f'{type(model).__name__} failed: {type(err).__name__}: '
                              f'{str(err).splitlines()[0][:500] if str(err) else ""}') from err

    def verify(tmp: str) -> None:  # before the file takes its final name
        for shape in shapes:
            # int8 is checked on the calibration data (resized for the dynamic check): its
            # ranges come from there, and noise of another range would saturate them
            inp = _like_calibration(calibration[0], shape) if int8 else \
                torch.randn(*shape, generator=gen)
            with torch.no_grad():
                eager = outputs_tuple(model(inp))
            what = f'{fmt}{" int8" if int8 else ""} at input {tuple(inp.shape)}'
            outs = run(tmp, inp)
            diff = compare_cosine(eager, outs, min_cosine, what) if int8 else \
                compare(eager, outs, rtol, atol, what)
            result.max_abs_diff.append(diff)
            result.checked_shapes.append(tuple(inp.shape))

    result = ExportResult(path=path, format=fmt)
    if fmt == 'openvino':
        _write_ir(path, make, verify)
    else:
        atomic_write(path, lambda tmp: (make(tmp), verify(tmp)))
    return result


def _like_calibration(batch: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``batch`` brought to ``shape``: batch repeated/cut, spatial dims interpolated."""
    n = shape[0]
    x = batch.repeat(-(-n // batch.shape[0]), *([1] * (batch.dim() - 1)))[:n].float()
    if tuple(x.shape[2:]) != tuple(shape[2:]):
        mode = 'bilinear' if x.dim() == 4 else 'trilinear' if x.dim() == 5 else 'linear'
        x = torch.nn.functional.interpolate(x, size=tuple(shape[2:]), mode=mode,
                                            align_corners=False)
    return x


def _write_ir(path: str, make: Callable[[str], None], verify: Callable[[str], None]) -> None:
    """An OpenVINO IR pair written under temporary names next to ``path``, verified, then
    renamed into place (``.bin`` first, so a new ``.xml`` never meets an old ``.bin``)."""
    if not path.endswith('.xml'):
        raise ValueError(f'path={path!r}: an OpenVINO IR is an .xml file (with a .bin beside '
                         'it).')
    with atomic_write_path(path, keep_ext=True) as tmp:
        tmp_bin = tmp[:-4] + '.bin'  # OpenVINO writes the weights beside the .xml
        try:
            make(tmp)
            verify(tmp)
            with atomic_write_path(path[:-4] + '.bin', keep_ext=True) as bin_tmp:
                os.replace(tmp_bin, bin_tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_bin)
