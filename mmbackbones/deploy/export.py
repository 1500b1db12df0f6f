"""Export a backbone (ONNX, TorchScript, ``torch.export``) and check it against eager.

Every export is verified in the same call: the exported model runs (onnxruntime for ONNX) on the
example input, and, with ``dynamic=True``, on a second input of another batch size and spatial
size; its outputs must equal the eager model's (``rtol``/``atol``, scaled by the output range).
Files are written to a temporary name next to the target and renamed when complete.

What cannot export raises :class:`ExportError` with the reason: mmcv's compiled ops (deformable
convs, ``dcn=...``) have no ONNX/``torch.export`` form in PyTorch.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..utils.fileio import write_atomic as atomic_write

FORMATS = ('onnx', 'torchscript', 'exported_program')
INSTALL_ONNX = 'pip install onnx onnxruntime onnxscript  (or pip install -e .[deploy])'


class ExportError(RuntimeError):
    """The model cannot be exported in this format, or the export disagrees with eager."""


@dataclass
class ExportResult:
    path: str
    format: str
    max_abs_diff: list[float] = field(default_factory=list)
    checked_shapes: list[tuple[int, ...]] = field(default_factory=list)


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


def _run_onnx(path: str, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    from .onnx_backbone import OnnxBackbone
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


_EXPORTERS = {
    'onnx': (_export_onnx, _run_onnx),
    'torchscript': (_export_torchscript, _run_torchscript),
    'exported_program': (_export_program, _run_program),
}


def export(model: nn.Module, path: str, fmt: str, input_shape: Sequence[int], *,
           dynamic: bool = False, rtol: float = 1e-3, atol: float = 1e-5) -> ExportResult:
    """Export ``model`` (in eval mode, as it is) to ``path`` and verify it against eager.

    Args:
        model: The model to export; call ``switch_to_deploy()`` first for a folded export.
        path: Output file; written atomically.
        fmt: ``'onnx'`` (the dynamo exporter; needs onnx, onnxscript, onnxruntime),
            ``'torchscript'`` (``torch.jit.trace``) or ``'exported_program'``
            (``torch.export``, ``.pt2``).
        input_shape: Example input shape, e.g. ``(1, 3, 224, 224)``.
        dynamic: Dynamic batch and spatial size (checked on a second shape).
        rtol: Relative tolerance against eager.
        atol: Absolute tolerance against eager, scaled by ``max(1, max |eager output|)``.

    Returns:
        An :class:`ExportResult` with the max abs diff per checked input shape.

    Raises:
        ExportError: Unsupported modules, exporter failure, or outputs that disagree.
    """
    check_exportable(model, fmt)
    model.eval()
    build, run = _EXPORTERS[fmt]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*input_shape, generator=gen)
    shapes = [tuple(input_shape)] + ([second_shape(input_shape)] if dynamic else [])

    def write(tmp: str) -> None:
        try:
            build(model, x, dynamic, tmp)
        except ExportError:
            raise
        except Exception as err:  # noqa: BLE001 - the exporters raise many types
            raise ExportError(f'{fmt} export of {type(model).__name__} failed: '
                              f'{type(err).__name__}: {str(err).splitlines()[0][:500]}') from err
        for shape in shapes:  # verify before the file takes its final name
            inp = torch.randn(*shape, generator=gen)
            with torch.no_grad():
                eager = outputs_tuple(model(inp))
            diff = compare(eager, run(tmp, inp), rtol, atol, f'{fmt} at input {shape}')
            result.max_abs_diff.append(diff)
            result.checked_shapes.append(shape)

    result = ExportResult(path=path, format=fmt)
    atomic_write(path, write)
    return result
