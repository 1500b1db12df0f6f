"""An inference preset: conv-BN folding, channels_last, native reduced precision, compile.

:func:`optimize` chooses each step from what the model and the hardware support and records why,
so a user sees what they got. Reduced precision is used only where the hardware runs it natively:
bf16 on CPUs with ``avx512_bf16``/``amx_bf16`` (elsewhere it is emulated and several times
slower), bf16 (or fp16 without bf16) on CUDA GPUs. Compiling (cached AOTInductor packages,
:mod:`~mmbackbones.deploy.compiled`) is on by default where it was measured to pay: on CPUs with
native bf16 (:func:`choose_compile`).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn as nn

from ..models.fuse import fuse_conv_bn
from ..utils.hardware import (
    cpu_has_native_bf16,
    cpu_has_native_fp16,
    cpu_has_vnni,
    hardware_summary,
)
from .compiled import CompiledModel
from .quantize import quantize_int8
from .wrappers import InferenceModel

PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16', 'int8')
_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def choose_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """``(chosen, why)`` for a requested precision on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision={precision!r}; allowed: {PRECISIONS}.')
    if precision == 'int8':
        if device.type != 'cpu':
            raise ValueError(f"precision='int8' runs on the CPU (x86 oneDNN kernels); the model "
                             f'is on {device}.')
        if not cpu_has_vnni():
            return 'int8', ('requested; this CPU has no VNNI/AMX-INT8: AVX2 int8 kernels '
                            '(u8 x s8 pairs summed in 16 bits), activations in 7 bits')
        return 'int8', 'requested; this CPU has int8 dot products (VNNI/AMX-INT8)'
    if device.type == 'cuda':
        if precision == 'auto':
            if torch.cuda.is_bf16_supported():
                return 'bf16', f'{torch.cuda.get_device_name(device)} supports bf16 natively'
            return 'fp16', f'{torch.cuda.get_device_name(device)} has no native bf16; fp16'
        return precision, 'requested'
    if device.type != 'cpu':
        return ('fp32', f'auto: no reduced-precision rule for device {device.type}') \
            if precision == 'auto' else (precision, 'requested')
    native = {'bf16': cpu_has_native_bf16(), 'fp16': cpu_has_native_fp16(), 'fp32': True}
    if precision == 'auto':
        if native['bf16']:
            return 'bf16', 'this CPU has native bf16 (avx512_bf16/amx_bf16)'
        return 'fp32', ('this CPU has no native bf16 (no avx512_bf16/amx_bf16 in /proc/cpuinfo): '
                        'bf16 would be emulated and several times slower, so fp32 was kept')
    if not native[precision]:
        warnings.warn(f'precision={precision!r} on a CPU without native support: it is emulated '
                      'and usually several times slower than fp32.', stacklevel=3)
        return precision, 'requested, although this CPU emulates it (slow)'
    return precision, 'requested; native on this CPU'


def _memory_format(model: nn.Module) -> torch.memory_format:
    if any(isinstance(m, nn.Conv3d) for m in model.modules()):
        return torch.channels_last_3d
    return torch.channels_last


@dataclass
class OptimizeRecord:
    """What :func:`optimize` did, step by step: ``(step, choice, why)``."""

    steps: list[tuple[str, str, str]] = field(default_factory=list)
    precision: str = 'fp32'
    hardware: str = ''
    quantize: object = None  # a QuantizeReport for precision='int8'

    def add(self, step: str, choice: str, why: str) -> None:
        self.steps.append((step, choice, why))

    def __str__(self) -> str:
        return '\n'.join([f'optimize() on {self.hardware}'] +
                         [f'  {step}: {choice} ({why})' for step, choice, why in self.steps])


class Optimized(NamedTuple):
    model: nn.Module
    record: OptimizeRecord


def choose_compile(compile: bool | None, precision: str, device: torch.device) -> tuple[bool, str]:
    """``(compile?, why)`` for ``optimize(compile=...)``: what was asked, or by default the rule
    measured per CPU kind (docs/benchmarks.md): compiled bf16 packages run 1.87x the eager bf16
    path on a Xeon with AMX and 1.08-1.38x (batch 8) / 1.14-1.86x (batch 1) on an EPYC with
    avx512_bf16, so a CPU with native bf16 compiles; fp32 on a CPU without it, GPUs and fp16 stay
    eager (not measured to pay)."""
    if compile is not None:
        if not isinstance(compile, bool):
            raise TypeError(f'compile={compile!r}; allowed: True, False or None (auto).')
        return compile, f'compile={compile}'
    if device.type == 'cpu' and precision == 'bf16' and cpu_has_native_bf16():
        return True, ('auto: native bf16 on this CPU, where compiled packages run 1.08-1.87x the '
                      'eager bf16 path (AMX: 1.87x)')
    if device.type != 'cpu':
        return False, f'auto: compiling is measured on CPUs only, not on {device.type}'
    return False, (f'auto: {precision} on this CPU; compiling is on by default only where the '
                   'CPU has native bf16 (measured to pay there)')


def optimize(model: nn.Module, *, fuse: bool = True, channels_last: bool = True,
             precision: str = 'auto', compile: bool | None = None, calibration=None,
             exclude: Sequence[str] = (), cache_dir: str | None = None,
             max_shapes: int = 4) -> Optimized:
    """Make ``model`` ready for inference on the device its parameters are on.

    Args:
        model: A backbone (or any module); changed in place (folded, cast, reformatted).
        fuse: Fold BatchNorm into convs (``switch_to_deploy()`` where the model has it; the
            model can no longer train).
        channels_last: Store weights and inputs channels-last (``channels_last_3d`` for 3D
            convs), the layout oneDNN and cuDNN convs prefer.
        precision: ``'auto'`` (bf16 where the hardware computes it natively, fp16 on CUDA GPUs
            without bf16, else fp32), ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'int8'``. An
            explicit reduced precision the CPU does not have natively is applied with a warning.
            ``'auto'`` never picks int8: int8 needs calibration data and changes the outputs
            more than a float format does (see :func:`~mmbackbones.deploy.quantize_int8`).
        compile: Compile the result into AOTInductor packages with weight freezing
            (:class:`~mmbackbones.deploy.compiled.CompiledModel`): one per input shape, at its
            first call, cached in ``cache_dir`` so later processes load it in about a second.
            ``None`` (default): :func:`choose_compile` decides per CPU kind (on where the CPU
            has native bf16). int8 is always lowered this way unless ``compile=False``, which
            gives the reference q/dq model (slow, for accuracy checks).
        cache_dir: Where compiled packages are kept (default
            ``$MMBACKBONES_COMPILE_CACHE`` or ``~/.cache/mmbackbones/compiled``).
        max_shapes: Input shapes compiled at most; later new shapes run eagerly.
        calibration: For int8: an iterable of input batches (normalized tensors; tuples of
            feature maps for a neck) to calibrate the activation ranges on.
        exclude: For int8: module names kept in float.

    Returns:
        ``(model, record)``: the model to call (inputs in any float dtype; outputs in the input's
        dtype) and an :class:`OptimizeRecord` saying what was chosen and why.

    Example:
        >>> from mmbackbones.models import ResNet
        >>> model, record = optimize(ResNet(depth=18), precision='fp32')
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))][-1]
        (1, 512, 2, 2)
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision={precision!r}; allowed: {PRECISIONS}.')
    if precision != 'int8' and (calibration is not None or exclude):
        raise ValueError(f'calibration/exclude are for precision=\'int8\'; got '
                         f'precision={precision!r}.')
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    record = OptimizeRecord(hardware=hardware_summary(device))
    model.eval()
    if fuse:
        if hasattr(model, 'switch_to_deploy'):
            report = model.switch_to_deploy()
        else:
            report = fuse_conv_bn(model)
        record.add('fuse', f'{len(report.folded)} BN folded, {len(report.skipped)} kept',
                   'conv-BN folding' + (f'; kept: {", ".join(n for n, _ in report.skipped[:4])}'
                                        if report.skipped else ''))
    else:
        record.add('fuse', 'off', 'fuse=False')
    if precision == 'int8':
        return _optimize_int8(model, record, device, compile, calibration, exclude,
                              cache_dir, max_shapes)
    memory_format = None
    if channels_last:
        memory_format = _memory_format(model)
        model.to(memory_format=memory_format)
        record.add('layout', str(memory_format).replace('torch.', ''), 'channels_last=True')
    else:
        record.add('layout', 'contiguous', 'channels_last=False')
    chosen, why = choose_precision(precision, device)
    record.precision = chosen
    dtype = _DTYPES[chosen]
    if dtype is not torch.float32:
        model.to(dtype)
    record.add('precision', chosen, why)
    wrapped: nn.Module = InferenceModel(model, dtype, memory_format)
    compiled, why = choose_compile(compile, chosen, device)
    if compiled:
        wrapped = CompiledModel(wrapped, cache_dir=cache_dir, max_shapes=max_shapes)
        record.add('compile', f'AOTInductor packages, up to {max_shapes} shapes', why +
                   '; the first call of a shape compiles unless its package is cached')
    else:
        record.add('compile', 'off (eager)', why)
    return Optimized(wrapped, record)


def _optimize_int8(model: nn.Module, record: OptimizeRecord, device: torch.device,
                   compile: bool | None, calibration, exclude: Sequence[str],
                   cache_dir: str | None, max_shapes: int) -> Optimized:
    chosen, why = choose_precision('int8', device)
    record.precision = chosen
    record.add('layout', 'chosen by inductor', 'int8: the lowered graph picks oneDNN layouts')
    record.add('precision', chosen, why)
    lower = compile is not False
    quantized = quantize_int8(model, calibration, exclude=exclude, lower=lower,
                              cache_dir=cache_dir, max_shapes=max_shapes)
    report = quantized.report
    record.quantize = report
    record.add('quantize', f'{len(report.quantized)} layers int8, {len(report.kept)} in float',
               f'PT2E static, per-channel weights, {report.calibration_batches} calibration '
               f'batches; cosine to float on the first: {report.cosine:.4f}' +
               (f'; kept: {"; ".join(f"{n} ({w})" for n, w in report.kept[:6])}'
                if report.kept else ''))
    record.add('compile', 'AOTInductor packages' if lower else 'off (reference q/dq, slow)',
               'int8 kernels come from inductor lowering with freezing' if lower else
               'compile=False')
    return Optimized(quantized, record)
