"""Throughput and peak memory of a backbone, side by side with other libraries' implementations.

Measures, for our backbone and (optionally) timm's, torchvision's and mmpretrain's implementation
of the same architecture, in one process:

* inference throughput (images/s, ``eval()`` + ``torch.inference_mode``),
* training-step throughput (forward, ``mean()`` of the last feature map, backward, SGD step),
* peak memory of one step: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the peak of the
  bytes torch allocates during the step, from the profiler's memory events (weights and
  optimizer state allocated before the step are not counted),

then prints a table with the ratios ours/theirs (throughput > 1: ours is faster; memory < 1: ours
needs less). Every implementation runs the backbone only (no pooling, no classifier) and, when
compared, ours returns only its last stage like the others (``out_indices=(-1,)`` unless
``--model-args out_indices=...`` says otherwise). The model arguments (``--model-args``,
``--cfg-options``, ``--shape``) are those of every tool (:mod:`mmbackbones.build`); a class that
needs arguments (``ResNeXt`` without ``depth``) is refused with the named variants that have them.
Runs of the implementations are interleaved, repeat by repeat, so a machine shared with other
work loads them alike; each number is the median over ``--repeats``. Each timed run starts
after a pause (``--settle``): onnxruntime's worker threads spin for a while after a run, and
took cores from whatever ran next (torchao int8 right after it: 20% slower). Threads: torch's
default (``torch.get_num_threads()``), unless ``--threads`` is given.

Our backbone can run in several modes side by side (``--mode``, default ``eager``), each
against the same anchors (the other libraries' default fp32 eager):

* ``eager``: fp32, as built; trains too (``--amp``: the training step under bf16 autocast on a CPU
  with native bf16 / fp16 on CUDA, channels-last, as ``tools/train.py --amp --channels-last``);
* ``deploy``: :func:`mmbackbones.deploy.optimize` with no arguments (BN folded, channels-last, bf16
  where the hardware has it natively, compiled where that is the CPU's default), inference only;
* ``deploy-eager``: the same with ``compile=False``; ``compile``: with ``compile=True`` (cached
  AOTInductor packages); its training step compiles the eager model with ``torch.compile``;
* ``onnxruntime``: exported with the dynamo ONNX exporter (BN folded, fp32) and run by onnxruntime
  on ``torch.get_num_threads()`` threads, inference only (its memory is not visible to the
  profiler: shown as -);
* ``int8``: :func:`mmbackbones.deploy.optimize` with ``precision='int8'`` (torchao PT2E static
  quantization, x86 inductor quantizer, lowered by inductor with freezing), calibrated on
  ``--calibration`` batches, inference only;
* ``onnxruntime-int8``: the ONNX export quantized by onnxruntime (static QDQ, per-channel);
* ``openvino``: the ONNX export read by OpenVINO, its default precision (bf16 on CPUs with native
  bf16) and its ``LATENCY`` performance hint (one synchronous request on every thread);
  ``openvino-throughput``: the same with the ``THROUGHPUT`` hint (the threads split into
  streams); ``openvino-fp32``: ``LATENCY`` with ``INFERENCE_PRECISION_HINT=f32``;
  ``openvino-int8``: NNCF int8 (needs ``tools/install.sh --with-openvino``).

``--calibration N_OR_DIR`` (default 4): the int8 modes' calibration batches, seeded random
batches of the benchmark input's shape or a folder of images.

The machine (CPU flags incl. native bf16, or GPU name) is printed with the table. Every timed
call is kept: besides images/s (the median over the repeats) the table gives the median and the
90th percentile of one call in milliseconds per image (``infer ms p50``, ``infer ms p90``: at
``--batch-size 1`` the latency). On a CPU it also gives the arithmetic limit of the model: its
operations per image (2 x multiply-accumulates, :mod:`mmbackbones.analysis`) against the best
matrix-product rate of each precision this CPU has natively (``cpu_peak.py``, measured in the same
run), and each row's share of the limit of its precision (``--no-limit`` skips it).

Examples::

    python tools/analysis_tools/benchmark.py res2net50_26w_4s resnext50_32x4d
    python tools/analysis_tools/benchmark.py ResNet --model-args depth=101 --timm resnet101
    python tools/analysis_tools/benchmark.py configs/_base_/models/res2net50-w26-s4.py \\
        --batch-size 16 --shape 224 --device cuda
    python tools/analysis_tools/benchmark.py resnet50 --threads 2 --mode eager deploy \\
        onnxruntime --amp --json resnet50.json

Progress (which implementation and repeat is running) goes to stderr; ``--json PATH`` also
writes the table (every implementation's numbers and the ratios) as JSON, atomically.
"""
from __future__ import annotations

import argparse
import ast
import json
import os.path as osp
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn as nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # cpu_peak.py beside it

# The same architecture elsewhere, by our registered name: timm model name, torchvision model
# name, mmpretrain backbone config. Extend as families are added; --timm/--torchvision/
# --mmpretrain name one explicitly.
EQUIVALENTS: dict[str, dict] = {
    **{f'resnet{d}': dict(timm=f'resnet{d}', torchvision=f'resnet{d}',
                          mmpretrain=dict(type='ResNet', depth=d))
       for d in (18, 34, 50, 101, 152)},
    'resnet50_v1c': dict(timm='resnet50c', mmpretrain=dict(type='ResNetV1c', depth=50)),
    'resnet50_v1d': dict(timm='resnet50d', mmpretrain=dict(type='ResNetV1d', depth=50)),
    'resnext50_32x4d': dict(timm='resnext50_32x4d', torchvision='resnext50_32x4d',
                            mmpretrain=dict(type='ResNeXt', depth=50, groups=32,
                                            width_per_group=4)),
    'res2net50_26w_4s': dict(timm='res2net50_26w_4s',
                             mmpretrain=dict(type='Res2Net', depth=50, scales=4, base_width=26,
                                             deep_stem=False, avg_down=False)),
    'res2net50_v1b_26w_4s': dict(timm='res2net50d',
                                 mmpretrain=dict(type='Res2Net', depth=50, scales=4,
                                                 base_width=26)),
    'vgg16': dict(timm='vgg16', torchvision='vgg16', mmpretrain=dict(type='VGG', depth=16)),
    'vgg16_bn': dict(timm='vgg16_bn', torchvision='vgg16_bn',
                     mmpretrain=dict(type='VGG', depth=16, norm_cfg=dict(type='BN'))),
    'googlenet_tv': dict(torchvision='googlenet'),
}
LIBRARIES = ('timm', 'torchvision', 'mmpretrain')


def parse_args(argv=None) -> argparse.Namespace:
    from mmbackbones.cli import add_model_arguments
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_arguments(parser, many=True, checkpoint=False,
                        shape_help="Default: the model's example input at 224 x 224.")
    parser.add_argument('--batch-size', type=int, default=8,
                        help='N when --shape does not give the full shape')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per run')
    parser.add_argument('--iters', type=int, default=3, help='timed iterations per repeat')
    parser.add_argument('--repeats', type=int, default=5, help='median over this many repeats')
    parser.add_argument('--settle', type=float, default=0.25, metavar='SECONDS',
                        help='pause before each timed run (default 0.25 s), so the worker '
                        'threads another runtime leaves spinning after its run are idle '
                        '(onnxruntime\'s made the next runner up to 20%% slower); 0: none')
    parser.add_argument('--threads', type=int, default=None, help="default: torch's default")
    parser.add_argument('--no-train', action='store_true', help='inference only')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory probe')
    parser.add_argument('--compare', nargs='*', default=None, choices=LIBRARIES,
                        help='libraries to compare with (default: every known equivalent whose '
                        'library is installed; give the flag alone for none)')
    parser.add_argument('--timm', help='timm model name to compare with')
    parser.add_argument('--torchvision', help='torchvision model name to compare with')
    parser.add_argument('--mmpretrain', help='mmpretrain backbone config, a Python dict literal')
    parser.add_argument('--mode', nargs='+', default=['eager'], choices=list(MODES),
                        help='how ours runs (several: side by side); see the module docstring')
    parser.add_argument('--calibration', default='4', metavar='N_OR_DIR',
                        help='calibration of the int8 modes: N seeded random batches or an '
                        'image folder')
    parser.add_argument('--amp', action='store_true',
                        help='also time our training step under mixed precision (bf16 autocast '
                        'on a CPU with native bf16, fp16 on CUDA) and channels-last')
    parser.add_argument('--no-limit', action='store_true',
                        help="skip the arithmetic limit (cpu_peak.py's matrix-product rates)")
    parser.add_argument('--json', metavar='PATH', help='also write the tables as JSON')
    # earlier spellings, kept working: --input-size S is --shape S, --args is --model-args
    parser.add_argument('--input-size', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--args', nargs='+', default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.input_size is not None:
        if args.shape is not None:
            parser.error('give --shape or (the older) --input-size, not both')
        args.shape = [args.input_size]
    if args.settle < 0:
        parser.error(f'--settle {args.settle}: a pause in seconds, 0 or more')
    args.model_args = args.model_args + args.args
    return args


# ---------------------------------------------------------------- building
class _Features(nn.Module):
    """Another library's model reduced to its backbone: the last feature map."""

    def __init__(self, model: nn.Module,
                 forward: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self._forward = forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(self.model, x)


def build_theirs(library: str, what) -> nn.Module:
    if library == 'timm':
        import timm
        model = timm.create_model(what, pretrained=False)
        model.reset_classifier(0)  # the classifier is never run: keep it out of params/optimizer
        return _Features(model, lambda m, x: m.forward_features(x))
    if library == 'torchvision':
        import torchvision
        model = getattr(torchvision.models, what)(weights=None)
        if hasattr(model, 'features'):  # VGG: the conv stack
            model = model.features
        elif hasattr(model, 'fc') and hasattr(model, 'avgpool'):  # ResNet, GoogLeNet: no head
            model = nn.Sequential(*[m for n, m in model.named_children()
                                    if n not in ('avgpool', 'dropout', 'fc', 'aux1', 'aux2')])
        return _Features(model, lambda m, x: m(x))
    if library == 'mmpretrain':
        import mmpretrain.models  # noqa: F401  (registers mmpretrain's backbones)
        from mmpretrain.registry import MODELS as PRETRAIN_MODELS
        cfg = ast.literal_eval(what) if isinstance(what, str) else dict(what)
        return _Features(PRETRAIN_MODELS.build(cfg), lambda m, x: m(x)[-1])
    raise ValueError(f'library={library!r}; allowed: {LIBRARIES}')


def comparisons(label: str, args: argparse.Namespace) -> dict[str, object]:
    known = EQUIVALENTS.get(label, {})
    explicit = {lib: getattr(args, lib) for lib in LIBRARIES if getattr(args, lib)}
    if args.compare is None:
        wanted = [lib for lib in LIBRARIES if lib in known or lib in explicit]
    else:
        wanted = list(args.compare) + [lib for lib in explicit if lib not in args.compare]
    found = {}
    for lib in wanted:
        what = explicit.get(lib, known.get(lib))
        if what is None:
            print(f'  ({label}: no known {lib} equivalent; name one with --{lib})')
        elif not _importable(lib):
            print(f'  ({label}: {lib} is not installed; skipped)')
        else:
            found[lib] = what
    return found


def _importable(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


# ---------------------------------------------------------------- measuring
def last_output(out) -> torch.Tensor:
    return out[-1] if isinstance(out, (tuple, list)) else out


class Runner:
    """One implementation: its model, optimizer and input, and one step of each mode."""

    def __init__(self, name: str, model: nn.Module, x: torch.Tensor, *,
                 modes: tuple[str, ...] = ('infer', 'train'), params: int | None = None,
                 train_model: nn.Module | None = None, autocast: torch.dtype | None = None,
                 memory: bool = True) -> None:
        self.name = name
        self.model = model.to(x.device) if isinstance(model, nn.Module) else model
        self.train_model = self.model if train_model is None else train_model
        self.x = x
        self.modes = modes
        self.memory = memory
        self.autocast = autocast
        self.params = params if params is not None else \
            sum(p.numel() for p in model.parameters())
        self.optimizer = torch.optim.SGD(self.train_model.parameters(), lr=1e-3, momentum=0.9) \
            if 'train' in modes else None

    def step(self, train: bool) -> None:
        if train:
            self.train_model.train()
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.x.device.type, dtype=self.autocast,
                                enabled=self.autocast is not None):
                loss = last_output(self.train_model(self.x)).float().mean()
            loss.backward()
            self.optimizer.step()
        else:
            self.model.eval()
            with torch.inference_mode():
                last_output(self.model(self.x))

    def timed(self, train: bool, iters: int) -> list[float]:
        """Seconds of each of ``iters`` iterations."""
        seconds = []
        for _ in range(iters):
            _sync(self.x.device)
            start = time.perf_counter()
            self.step(train)
            _sync(self.x.device)
            seconds.append(time.perf_counter() - start)
        return seconds

    def peak_memory(self, train: bool) -> float:
        """Peak bytes allocated during one step, beyond what was allocated before it."""
        from mmbackbones.analysis import peak_allocated_bytes
        self.step(train)  # optimizer state exists before the measured step
        return peak_allocated_bytes(lambda: self.step(train), self.x.device)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def progress(text: str) -> None:
    """What runs now, on stderr (the table goes to stdout): one line overwritten by the next on
    a terminal, a line each in a log; ``''`` ends it."""
    if sys.stderr.isatty():
        print(f'\r\033[K{text}', end='' if text else '', file=sys.stderr, flush=True)
    elif text:
        print(text, file=sys.stderr, flush=True)


def measure(runners: list[Runner], train: bool,
            args: argparse.Namespace) -> dict[str, list[list[float]]]:
    """Seconds of every timed iteration of each runner, per repeat; runs interleaved repeat by
    repeat."""
    what = 'train' if train else 'infer'
    runners = [r for r in runners if what in r.modes]
    for runner in runners:
        progress(f'{what}: warm-up {runner.name}')
        for _ in range(args.warmup):
            runner.step(train)
    times: dict[str, list[list[float]]] = {r.name: [] for r in runners}
    for repeat in range(args.repeats):
        # alternate the order so neither side always runs right after the other
        order = runners if repeat % 2 == 0 else runners[::-1]
        for runner in order:
            progress(f'{what}: repeat {repeat + 1}/{args.repeats} {runner.name}')
            time.sleep(args.settle)  # another runtime's spinning workers go idle first
            times[runner.name].append(runner.timed(train, args.iters))
    progress('')
    return times


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0-1) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def benchmark(spec: str, args: argparse.Namespace, model_args: dict) -> dict:
    """Build, measure and print one model; returns its table (see :func:`table`)."""
    from mmbackbones.cli import build_labelled, input_shape
    label, ours = build_labelled(spec, model_args, args.cfg_options)
    others = comparisons(label, args)
    if others and 'out_indices' not in model_args and getattr(ours, 'num_stages', 1) > 1:
        # the others return only the last feature map: do the same, so no earlier stage
        # output is kept alive longer than theirs
        label, ours = build_labelled(spec, dict(model_args, out_indices=(-1, )),
                                     args.cfg_options)
    device = torch.device(args.device)
    x = torch.randn(*input_shape(ours, args.shape, batch=args.batch_size), device=device)
    runners = our_runners(label, ours, x, args)
    n_ours = len(runners)
    for lib, what in others.items():
        runners.append(Runner(f'{lib} {what if isinstance(what, str) else what["type"]}',
                              build_theirs(lib, what), x))

    modes = [False] if args.no_train else [False, True]
    results = {r.name: {} for r in runners}
    for train in modes:
        mode = 'train' if train else 'infer'
        for name, repeats in measure(runners, train, args).items():
            per_repeat = [sum(r) / len(r) for r in repeats]
            results[name][f'{mode} img/s'] = x.shape[0] / statistics.median(per_repeat)
            if not train:
                calls = [t for r in repeats for t in r]
                for q in (0.5, 0.9):
                    results[name][f'infer ms p{round(q * 100)}'] = \
                        1000 * percentile(calls, q) / x.shape[0]
        if not args.no_memory:
            for runner in runners:
                if mode in runner.modes and runner.memory:
                    progress(f'{mode}: peak memory of {runner.name}')
                    results[runner.name][f'{mode} MiB'] = runner.peak_memory(train) / 2**20
            progress('')
    result = table(label, tuple(x.shape), runners, results, args, n_ours)
    if device.type == 'cpu' and not args.no_limit:
        result['limit'] = arithmetic_limit(ours, tuple(x.shape), runners, results)
    print_table(result)
    return result


# ---------------------------------------------------------------- our modes
def eager_runner(name: str, model: nn.Module, x: torch.Tensor, params: int,
                 args: argparse.Namespace) -> Runner:
    return Runner(name, model, x)


def deploy_runner(name: str, model: nn.Module, x: torch.Tensor, params: int,
                  args: argparse.Namespace, compile: bool | None = None) -> Runner:
    """:func:`mmbackbones.deploy.optimize` (``compile=None``: its default for this CPU); with
    ``compile=True`` its training step compiles the eager model."""
    import copy

    from mmbackbones.deploy import optimize
    train_model = torch.compile(copy.deepcopy(model)) if compile else None
    fast, record = optimize(model, compile=compile)
    print(f'  {name}: {record}')
    return Runner(f'{name} {record.precision}', fast, x, params=params, train_model=train_model,
                  modes=('infer', 'train') if train_model is not None else ('infer', ))


def deploy_eager_runner(name: str, model: nn.Module, x: torch.Tensor, params: int,
                        args: argparse.Namespace) -> Runner:
    return deploy_runner(name, model, x, params, args, compile=False)


def compile_runner(name: str, model: nn.Module, x: torch.Tensor, params: int,
                   args: argparse.Namespace) -> Runner:
    return deploy_runner(name, model, x, params, args, compile=True)


def onnxruntime_runner(name: str, model: nn.Module, x: torch.Tensor, params: int,
                       args: argparse.Namespace) -> Runner:
    return Runner(name, onnx_model(model, x), x, params=params, modes=('infer', ),
                  memory=False)


def int8_or_openvino_runner(mode: str) -> Callable[..., Runner]:
    """The runner of an int8 or OpenVINO ``mode`` (inference only, calibrated by
    ``--calibration``)."""
    def runner(name: str, model: nn.Module, x: torch.Tensor, params: int,
               args: argparse.Namespace) -> Runner:
        return Runner(name, int8_or_openvino_model(mode, model, x, args), x, params=params,
                      modes=('infer', ), memory=False)
    return runner


def int8_or_openvino_model(mode: str, model: nn.Module, x: torch.Tensor,
                           args: argparse.Namespace) -> nn.Module:
    """``model`` (folded) as ``mode`` runs it: torchao int8, onnxruntime int8 or OpenVINO."""
    import tempfile

    from mmbackbones.deploy import OnnxBackbone, OpenVinoBackbone, export, optimize
    from mmbackbones.deploy.calibration import calibration_from_spec
    calibration = calibration_from_spec(args.calibration, tuple(x.shape)) \
        if mode in ('int8', 'onnxruntime-int8', 'openvino-int8') else None
    model.eval()
    model.switch_to_deploy()
    if mode == 'int8':
        fast, record = optimize(model, precision='int8', calibration=calibration)
        print(f'  int8: {record}')
        return fast
    with tempfile.TemporaryDirectory() as tmp:
        if mode == 'onnxruntime-int8':
            path = osp.join(tmp, 'model.onnx')
            export(model, path, 'onnx', tuple(x.shape), int8=True, calibration=calibration)
            return OnnxBackbone(path, threads=torch.get_num_threads())
        path = osp.join(tmp, 'model.xml')
        export(model, path, 'openvino', tuple(x.shape), int8=mode == 'openvino-int8',
               calibration=calibration)
        backbone = OpenVinoBackbone(
            path, threads=torch.get_num_threads(),
            precision_hint='f32' if mode == 'openvino-fp32' else None,
            performance_hint='THROUGHPUT' if mode == 'openvino-throughput' else 'LATENCY')
        print(f'  {mode}: OpenVINO runs {backbone.precision}, {backbone.performance_hint}')
        return backbone


#: ``--mode`` -> how ours runs: ``(name, model copy on the device, input, params, args) ->
#: Runner``.
MODES: dict[str, Callable[..., Runner]] = {
    'eager': eager_runner,
    'deploy': deploy_runner,
    'deploy-eager': deploy_eager_runner,
    'compile': compile_runner,
    'onnxruntime': onnxruntime_runner,
    **{mode: int8_or_openvino_runner(mode) for mode in (
        'int8', 'onnxruntime-int8', 'openvino', 'openvino-throughput', 'openvino-fp32',
        'openvino-int8')},
}


def our_runners(label: str, ours: nn.Module, x: torch.Tensor,
                args: argparse.Namespace) -> list[Runner]:
    """One runner per ``--mode`` (each on its own copy of the model), plus ``--amp``."""
    import copy
    params = sum(p.numel() for p in ours.parameters())
    runners = []
    for mode in args.mode:
        name = f'mmbackbones {label}' + ('' if mode == 'eager' else f' [{mode}]')
        runners.append(MODES[mode](name, copy.deepcopy(ours).to(x.device), x, params, args))
    if args.amp:
        from mmbackbones.deploy import choose_precision
        precision, why = choose_precision('auto', x.device)
        if precision == 'fp32':
            print(f'  --amp: skipped: {why}')
        else:
            model = copy.deepcopy(ours).to(x.device)
            memory_format = torch.channels_last_3d if x.dim() == 5 else torch.channels_last
            model.to(memory_format=memory_format)
            x_cl = x.contiguous(memory_format=memory_format)
            dtype = torch.bfloat16 if precision == 'bf16' else torch.float16
            runners.append(Runner(f'mmbackbones {label} [amp {precision}]', model, x_cl,
                                  modes=('train', ), autocast=dtype))
    return runners


def onnx_model(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """``model`` folded, exported to a temporary ONNX file, run by onnxruntime."""
    import tempfile

    from mmbackbones.deploy import OnnxBackbone, export
    model.eval()
    model.switch_to_deploy()
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'model.onnx')
        export(model, path, 'onnx', tuple(x.shape))
        return OnnxBackbone(path, threads=torch.get_num_threads())


def _lower_is_better(column: str) -> bool:
    return column.endswith('MiB') or ' ms ' in column


def table(label: str, shape: tuple, runners: list[Runner], results: dict,
          args: argparse.Namespace, n_ours: int = 1) -> dict:
    """The numbers of one model: every implementation's row and ours over each anchor (the
    other libraries) and over the fastest anchor per column (highest img/s, lowest MiB)."""
    from mmbackbones.deploy import hardware_summary
    columns = list(dict.fromkeys(c for r in runners for c in results[r.name]))
    rows = [dict(implementation=r.name, params=r.params, **results[r.name]) for r in runners]
    anchors = runners[n_ours:]
    best = {}
    for c in columns:
        values = [results[a.name][c] for a in anchors if results[a.name].get(c)]
        if values:
            best[c] = min(values) if _lower_is_better(c) else max(values)
    ratios = []
    for ours in runners[:n_ours]:
        mine = results[ours.name]
        tag = ours.name[len('mmbackbones '):]
        for anchor in anchors:
            theirs = results[anchor.name]
            ratios.append(dict(ratio=f'{tag} / {anchor.name.split()[0]}',
                               **{c: mine[c] / theirs[c] for c in columns
                                  if mine.get(c) and theirs.get(c)}))
        if anchors:
            ratios.append(dict(ratio=f'{tag} / fastest',
                               **{c: mine[c] / best[c] for c in columns
                                  if mine.get(c) and best.get(c)}))
    return dict(model=label, input_shape=list(shape), device=args.device,
                threads=torch.get_num_threads(), repeats=args.repeats, iters=args.iters,
                warmup=args.warmup, machine=hardware_summary(args.device), columns=columns,
                rows=rows, ratios=ratios)


def row_precision(name: str, default: str) -> str:
    """The precision a row computes in: int8 modes int8, our deploy rows their recorded
    precision (the row's last word), OpenVINO's default the CPU's native float, fp32 else."""
    if 'int8' in name:
        return 'int8'
    last = name.split()[-1]
    if last in ('bf16', 'fp16', 'fp32'):
        return last
    if '[openvino]' in name or '[openvino-throughput]' in name:
        return default
    return 'fp32'


def arithmetic_limit(ours: nn.Module, shape: tuple, runners: list[Runner],
                     results: dict) -> dict:
    """Operations per image, this CPU's best matrix-product rate per native precision
    (``cpu_peak.py``), the images/s they allow, and each row's share of its precision's."""
    from cpu_peak import native_precisions, peak_rates

    from mmbackbones.analysis import measure_complexity
    progress('limit: operations per image, matrix-product rates')
    macs = measure_complexity(ours, shape).macs  # multiply-accumulates of the whole batch
    ops_per_image = 2 * macs / shape[0]
    native = [p for p, ok in native_precisions().items() if ok]
    rates = peak_rates(native, repeats=3, min_time=0.2)
    best = {p: max(r[p] for r in rates.values()) * 1e9 for p in native}
    progress('')
    limit = {p: best[p] / ops_per_image for p in native}
    float_default = 'bf16' if 'bf16' in native else 'fp32'
    shares = {}
    for runner in runners:
        precision = row_precision(runner.name, float_default)
        speed = results[runner.name].get('infer img/s')
        if speed and precision in limit:
            shares[runner.name] = (precision, speed / limit[precision])
    return dict(ops_per_image=ops_per_image, gops_per_s={p: best[p] / 1e9 for p in native},
                img_per_s=limit, shares=shares)


def print_table(result: dict) -> None:
    columns = result['columns']
    name_width = max(len(r['implementation']) for r in result['rows']) + 2
    print(f"\n{result['model']}: input {tuple(result['input_shape'])}, device "
          f"{result['device']}, {result['threads']} threads, median of {result['repeats']} x "
          f"{result['iters']} iterations (warm-up {result['warmup']})")
    print(f"machine: {result['machine']}")

    def cells(row: dict, fmt) -> str:
        return ''.join(f'{fmt(row[c]):>14}' if row.get(c) is not None else f'{"-":>14}'
                       for c in columns)

    print(f'{"implementation":<{name_width}}{"params (M)":>12}' +
          ''.join(f'{c:>14}' for c in columns))
    for row in result['rows']:
        print(f"{row['implementation']:<{name_width}}{row['params'] / 1e6:>12.3f}" +
              cells(row, lambda v: f'{v:.1f}'))
    if not result['ratios']:
        return
    for row in result['ratios']:
        print(f"{row['ratio']:<{name_width}}{'':>12}" + cells(row, lambda v: f'{v:.3f}'))
    print('(img/s ratio > 1: ours is faster; ms ratio < 1: ours is faster; MiB ratio < 1: ours '
          'needs less memory; "fastest": the best anchor in that column)')
    limit = result.get('limit')
    if limit:
        print(f"arithmetic limit: {limit['ops_per_image'] / 1e9:.2f} G operations per image; "
              + ', '.join(f"{p} {limit['gops_per_s'][p]:,.0f} G/s = {limit['img_per_s'][p]:.1f} "
                          'img/s' for p in limit['img_per_s']) + " (cpu_peak.py's best product)")
        for name, (precision, share) in limit['shares'].items():
            print(f'  {name:<{name_width}} {share:6.1%} of the {precision} limit')


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from mmbackbones.cli import parse_model_args
    from mmbackbones.config import ConfigError
    results = []
    try:
        model_args = parse_model_args(args.model_args)
        for spec in args.model:
            results.append(benchmark(spec, args, model_args))
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if args.json:
        from mmbackbones.utils.fileio import write_bytes_atomic
        write_bytes_atomic(args.json, json.dumps(results, indent=1).encode())
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
