#!/usr/bin/env python
"""What this CPU's matrix products reach in fp32, bf16 and int8: the ceiling of each precision.

    python tools/analysis_tools/cpu_peak.py --threads 2

Times ``torch.mm`` in fp32 and bf16 and ``torch._int_mm`` (int8 x int8 -> int32, the oneDNN VNNI /
AMX kernels) on matrix shapes that a ResNet-50 at batch 8, 224 x 224 computes (a 1 x 1 conv of
layer1, a 3 x 3 conv of layer3 as im2col, a square product), the precisions interleaved repeat by
repeat. Prints G/s (2 x M x N x K per second, the best repeat) and each precision's ratio to
fp32: the most a whole network can gain from that precision on this machine when its time is in
such products. A precision the CPU emulates (bf16 without avx512_bf16/AMX, int8 without VNNI/AMX)
is not timed unless ``--emulated`` is given (its products then run on slow fallback kernels: on a
2-core AVX2-only EPYC, 0.3-6 G/s against fp32's 130-190, a minute for one 2048^3 product), and is
marked so. Those fallbacks are not what a quantized network runs there: oneDNN's int8
convolutions have AVX2 kernels of their own (u8 x s8 pairs summed in 16 bits), so without VNNI
``benchmark.py --mode int8`` is the measure of int8, not this table.
"""
from __future__ import annotations

import argparse
import os.path as osp
import platform
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

# (name, M, K, N) at ResNet-50, batch 8, 224 x 224
SHAPES = [('layer1 1x1 conv (M=8x56x56)', 25088, 64, 256),
          ('layer3 3x3 conv as im2col (M=8x14x14)', 1568, 2304, 256),
          ('square 2048', 2048, 2048, 2048)]
PRECISIONS = ('fp32', 'bf16', 'int8')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    parser.add_argument('--repeats', type=int, default=5, help='timed repeats per precision')
    parser.add_argument('--min-time', type=float, default=0.2,
                        help='seconds each timed repeat runs at least (default 0.2)')
    parser.add_argument('--emulated', action='store_true',
                        help='also time the precisions this CPU emulates (slow)')
    args = parser.parse_args(argv)
    for name in ('threads', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name}={getattr(args, name)}; allowed: an integer >= 1.')
    if args.min_time <= 0:
        parser.error(f'--min-time={args.min_time}; allowed: a positive number of seconds.')
    return args


def operands(precision: str, m: int, k: int, n: int) -> tuple:
    gen = torch.Generator().manual_seed(0)
    if precision == 'int8':
        return (torch.randint(-128, 128, (m, k), dtype=torch.int8, generator=gen),
                torch.randint(-128, 128, (k, n), dtype=torch.int8, generator=gen), torch._int_mm)
    dtype = torch.float32 if precision == 'fp32' else torch.bfloat16
    return (torch.randn(m, k, generator=gen).to(dtype), torch.randn(k, n, generator=gen).to(dtype),
            torch.mm)


def rate(a: torch.Tensor, b: torch.Tensor, mm, min_time: float) -> float:
    """G/s of ``mm(a, b)`` over at least ``min_time`` seconds."""
    flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
    calls, start = 0, time.perf_counter()
    while True:
        mm(a, b)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return flops * calls / elapsed / 1e9


def native_precisions() -> dict[str, bool]:
    """Which precisions this CPU computes natively."""
    from mmbackbones.utils.hardware import cpu_has_native_bf16, cpu_has_vnni
    return {'fp32': True, 'bf16': cpu_has_native_bf16(), 'int8': cpu_has_vnni()}


def peak_rates(precisions=PRECISIONS, shapes=SHAPES, repeats: int = 5,
               min_time: float = 0.2) -> dict[str, dict[str, float]]:
    """``{shape name: {precision: best G/s}}``, the precisions interleaved repeat by repeat (a
    shared machine slows all alike), on the threads torch has now."""
    table = {}
    for name, m, k, n in shapes:
        ops = {p: operands(p, m, k, n) for p in precisions}
        for a, b, mm in ops.values():  # warm-up: oneDNN primitive creation, page faults
            mm(a, b)
        best = dict.fromkeys(precisions, 0.0)
        for _ in range(repeats):
            for p, (a, b, mm) in ops.items():
                best[p] = max(best[p], rate(a, b, mm, min_time))
        table[name] = best
    return table


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmbackbones.utils.hardware import cpu_model, hardware_summary
    torch.set_num_threads(args.threads)
    native = native_precisions()
    print(f'machine: {platform.processor() or platform.machine()}, {cpu_model()}; '
          f'{hardware_summary("cpu")}; threads {args.threads}; torch {torch.__version__}')
    print(f'| shape (M x K x N) | {" | ".join(f"{p} G/s" for p in PRECISIONS)} | '
          f'bf16 / fp32 | int8 / fp32 |')
    print('|---|' + '---|' * (len(PRECISIONS) + 2))
    timed = [p for p in PRECISIONS if native[p] or args.emulated]
    rates = peak_rates(timed, SHAPES, args.repeats, args.min_time)
    for name, m, k, n in SHAPES:
        best = rates[name]
        cells = [cell(best.get(p), native[p]) for p in PRECISIONS]
        ratios = [f'{best[p] / best["fp32"]:.2f}x' if p in best else '-' for p in ('bf16', 'int8')]
        print(f'| {name}, {m} x {k} x {n} | {" | ".join(cells + ratios)} |')
    if len(timed) < len(PRECISIONS):
        print('(emulated: not timed; --emulated times them on their fallback kernels)')
    return 0


def cell(rate_: float | None, native: bool) -> str:
    if rate_ is None:
        return 'emulated'
    text = f'{rate_:,.0f}' if rate_ >= 100 else f'{rate_:.3g}'
    return text + ('' if native else ' (emulated)')


if __name__ == '__main__':
    sys.exit(main())
