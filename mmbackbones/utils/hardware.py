"""What the CPU can do, read once from ``/proc/cpuinfo``: the one place deploy, the engine and the
benchmarks ask whether a precision is native here (a leaf: imports nothing of ours)."""
from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=1)
def _cpuinfo(*keys: str) -> str | None:
    """The value of the first ``/proc/cpuinfo`` line starting with one of ``keys`` (None where
    there is none or the file cannot be read)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith(keys):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where it cannot be read)."""
    return frozenset((_cpuinfo('flags', 'Features') or '').split())


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` ('CPU model unknown' where it is not there)."""
    return _cpuinfo('model name') or 'CPU model unknown'


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (``avx512_bf16`` or AMX ``amx_bf16``)."""
    return bool({'avx512_bf16', 'amx_bf16'} & cpu_flags())


def cpu_has_vnni() -> bool:
    """Whether this CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8);
    without them int8 convs are not faster than fp32 ones."""
    return bool({'avx512_vnni', 'avx_vnni', 'amx_int8'} & cpu_flags())


def cpu_has_native_fp16() -> bool:
    """Whether this CPU computes fp16 natively (``avx512_fp16`` or AMX ``amx_fp16``)."""
    return bool({'avx512_fp16', 'amx_fp16'} & cpu_flags())


def hardware_summary(device: torch.device | str = 'cpu') -> str:
    """One line naming the device: GPU name, or the CPU's vector/bf16 flags."""
    device = torch.device(device)
    if device.type == 'cuda':
        return f'GPU {torch.cuda.get_device_name(device)}'
    wanted = ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_bf16',
              'amx_int8', 'avx512_fp16', 'amx_fp16')
    flags = [f for f in wanted if f in cpu_flags()]
    return (f'CPU flags: {" ".join(flags) or "none of " + ", ".join(wanted)}; '
            f'native bf16: {"yes" if cpu_has_native_bf16() else "no"}')
