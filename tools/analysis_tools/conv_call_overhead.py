#!/usr/bin/env python
"""What one call of PyTorch's oneDNN convolution costs beyond the convolution: a reproducer.

    python tools/analysis_tools/conv_call_overhead.py --threads 2

Inductor's frozen graphs (``optimize(compile=True)``, int8 lowering) call one op per conv:
``mkldnn._convolution_pointwise`` (float, weights pre-packed) and ``onednn.qconv_pointwise``
(int8, pre-packed). This script times those ops, in a loop, on convolutions so small that the
arithmetic is nothing (1 x 1 over 8 channels of a 1 x 1 map) and on ResNet-sized ones, next to
``torch.add`` of the same input (the dispatcher's own floor). With ``--verbose`` it also runs the
calls under ``ONEDNN_VERBOSE=profile_exec`` in a child process and prints oneDNN's own time of the
kernel, so the difference is what PyTorch spends around it on every call (argument checks,
building the primitive descriptor, the primitive-cache lookup, output allocation); a network of N
convs pays it N times per forward, which is what dominates batch-1 latency of small networks.
Prints the machine and the torch version with the table.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

#: (channels, spatial side) of the timed 1 x 1 convs: nothing, a ResNet layer4 and layer3 map.
SHAPES = ((8, 1), (512, 7), (256, 14))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    parser.add_argument('--calls', type=int, default=2000, help='calls per timed loop')
    parser.add_argument('--verbose', action='store_true',
                        help="also read oneDNN's own kernel times (ONEDNN_VERBOSE, a child "
                        'process)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ('threads', 'calls'):
        if getattr(args, name) < 1:
            parser.error(f'--{name}={getattr(args, name)}; allowed: an integer >= 1.')
    return args


def ops(kind: str, channels: int, side: int):
    """``(op call, the same input for torch.add)`` of one pre-packed 1 x 1 conv + ReLU."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, side, side, generator=gen)
    w = torch.randn(channels, channels, 1, 1, generator=gen) / channels ** 0.5
    bias = torch.zeros(channels)
    unit = ([0, 0], [1, 1], [1, 1])  # padding, stride, dilation
    if kind in ('fp32', 'bf16'):
        dtype = torch.float32 if kind == 'fp32' else torch.bfloat16
        x = x.to(dtype).contiguous(memory_format=torch.channels_last)
        w, bias = w.to(dtype), bias.to(dtype)
        packed = torch.ops.mkldnn._reorder_convolution_weight(w, *unit, 1, list(x.shape))

        def call():
            return torch.ops.mkldnn._convolution_pointwise(x, packed, bias, *unit, 1, 'relu',
                                                           [], '')
        return call, x
    # int8: uint8 activations per tensor, int8 weights per output channel, as torchao's x86
    # inductor quantizer makes them
    qx = torch.randint(0, 255, x.shape, dtype=torch.uint8, generator=gen).contiguous(
        memory_format=torch.channels_last)
    w_scales = torch.full((channels, ), 0.02)
    qw = torch.randint(-127, 127, w.shape, dtype=torch.int8, generator=gen)
    packed = torch.ops.onednn.qconv_prepack(qw, w_scales, 0.05, 0, [1, 1], [0, 0], [1, 1], 1,
                                            list(x.shape))
    zero_points = torch.zeros(channels, dtype=torch.int64)

    def call():
        return torch.ops.onednn.qconv_pointwise(qx, 0.05, 0, packed, w_scales, zero_points,
                                                bias, [1, 1], [0, 0], [1, 1], 1, 0.1, 0, None,
                                                'relu', [], '')
    return call, qx.float()


def microseconds(fn, calls: int) -> float:
    for _ in range(50):
        fn()
    loops = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        loops.append((time.perf_counter() - start) / calls)
    return statistics.median(loops) * 1e6


def kinds() -> list[str]:
    from mmbackbones.utils.hardware import cpu_has_native_bf16, cpu_has_vnni
    return ['fp32'] + (['bf16'] if cpu_has_native_bf16() else []) + \
        (['int8'] if cpu_has_vnni() else [])


def onednn_exec_us(threads: int, kind: str, channels: int, side: int, calls: int = 200) -> float:
    """oneDNN's own mean execution time of the conv, read from ONEDNN_VERBOSE in a child."""
    env = dict(os.environ, ONEDNN_VERBOSE='profile_exec')
    done = subprocess.run([sys.executable, __file__, '--threads', str(threads), '--child',
                           f'{kind},{channels},{side},{calls}'], env=env, capture_output=True,
                          text=True, timeout=600)
    times = [float(line.rsplit(',', 1)[1]) for line in done.stdout.splitlines()
             if line.startswith('onednn_verbose') and ',exec,' in line]
    times = times[len(times) // 2:]  # the second half: warmed up
    return 1000 * statistics.mean(times) if times else float('nan')


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child:
        kind, channels, side, calls = args.child.split(',')
        fn, _ = ops(kind, int(channels), int(side))
        with torch.no_grad():
            for _ in range(int(calls)):
                fn()
        return 0
    from mmbackbones.utils.hardware import cpu_model, hardware_summary
    print(f'machine: {platform.machine()}, {cpu_model()}; {hardware_summary("cpu")}; threads '
          f'{args.threads}; torch {torch.__version__}')
    print('| conv (1 x 1 + ReLU, batch 1) | precision | op us/call | torch.add us/call | '
          'oneDNN kernel us | around the kernel us |')
    print('|---|---|---|---|---|---|')
    with torch.no_grad():
        for kind in kinds():
            for channels, side in SHAPES:
                fn, x = ops(kind, channels, side)
                op = microseconds(fn, args.calls)
                add = microseconds(lambda x=x: torch.add(x, x), args.calls)
                kernel = onednn_exec_us(args.threads, kind, channels, side) if args.verbose \
                    else float('nan')
                around = op - kernel
                cells = [f'{v:.1f}' if v == v else '-' for v in (op, add, kernel, around)]
                print(f'| {channels} ch, {side} x {side} | {kind} | ' + ' | '.join(cells) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
