"""Post-training static int8 quantization through torchao's PT2E flow, lowered by inductor.

:func:`quantize_int8` (what ``optimize(model, precision='int8', calibration=...)`` calls):

1. ``torch.export`` the (BN-folded) model, batch and spatial size dynamic;
2. two graph passes that let torchao's ``X86InductorQuantizer`` match our blocks (below);
3. ``prepare_pt2e`` with the x86 inductor quantizer: int8 activations (per tensor, asymmetric),
   int8 weights (per output channel, symmetric); conv + add + ReLU, conv + ReLU and pooling are
   annotated as fused int8 patterns;
4. calibration: every batch runs through the observed graph;
5. ``convert_pt2e`` (quantize/dequantize pairs around each quantized op);
6. an AOTInductor package with weight freezing per input shape
   (:class:`~mmbackbones.deploy.compiled.CompiledModel`, cached on disk): inductor folds the
   q/dq pairs into oneDNN int8 convolutions (VNNI / AMX) with pre-packed weights. Without lowering
   (``lower=False``) the converted model computes the same int8 rounding in fp32 q/dq ops: slower
   than fp32, for accuracy checks only.

Graph passes. The quantizer groups the nodes of one *module* into one partition, and gives up
("Input partition has more than one output node") on a partition with several outputs. Two
common ways of writing a residual block make such partitions: one ``nn.ReLU`` module called
several times in a block (torchvision, timm, ours), and the in-place ``out += identity``. The
passes give each call of a module its own partition and turn in-place ``add_``/``relu_`` whose
input is not read afterwards into their out-of-place forms; neither changes what the graph
computes, and the model's code stays as it is.

Ceil-mode max pools (GoogLeNet's). Inductor's int8 max-pool lowering in torch 2.14 drops
``ceil_mode`` (its pattern binds that argument to an unused slot), so a pooled int8 map came out
one row and column short wherever the ceiling mattered (GoogLeNet at 224 x 224: 55 x 55 for
56 x 56). While the model is exported, every ``nn.MaxPool2d(ceil_mode=True)`` with a stride above
1 is traced as the same pool in floor mode over an input padded with ``stride - 1`` rows and
columns of ``-inf`` (:func:`ceil_max_pool2d`; at stride 1, where ceil and floor agree, in floor
mode as it is): the same values at every size, which that lowering cannot shorten; a padded
pool runs in float. ``quantize_int8`` also checks that the lowered graph returns
the float model's output shapes.

What stays in float is listed with the reason: 3D convs (the x86 inductor quantizer has no
conv3d pattern), layers the caller excludes, and any other conv/linear the quantizer left alone.
"""
from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.nn.modules.utils import _pair

from ..utils.hardware import cpu_has_vnni
from .compiled import CompiledModel

INSTALL_TORCHAO = 'pip install torchao  (or pip install -e .[deploy])'


def why_no_torchao() -> str | None:
    """Why int8 (torchao PT2E) is unavailable here, or None."""
    if importlib.util.find_spec('torchao') is None:
        return f'torchao not installed ({INSTALL_TORCHAO})'
    return None


@dataclass
class QuantizeReport:
    """Which layers run int8 and which stay in float, and why."""

    quantized: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    calibration_batches: int = 0
    cosine: float | None = None  # quantized vs float on the first calibration batch

    def __str__(self) -> str:
        kept = '; '.join(f'{n}: {why}' for n, why in self.kept) or 'none'
        return (f'{len(self.quantized)} layers int8, {len(self.kept)} kept in float ({kept}); '
                f'{self.calibration_batches} calibration batches')


# ---------------------------------------------------------------- calibration data
def _check_tensor(t, where: str, channels: int | None, ndim: int | None) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f'calibration: {where} is a {type(t).__name__}; allowed: a float '
                        'torch.Tensor (a batch of inputs).')
    if not t.is_floating_point():
        raise TypeError(f'calibration: {where} has dtype {t.dtype}; allowed: a floating-point '
                        'tensor (normalized images, as the model takes them).')
    if ndim is not None and t.dim() != ndim:
        raise ValueError(f'calibration: {where} has shape {tuple(t.shape)} ({t.dim()}-D); the '
                         f'model takes {ndim}-D inputs (N, C, ...).')
    if channels is not None and t.shape[1] != channels:
        raise ValueError(f'calibration: {where} has {t.shape[1]} channels (shape '
                         f'{tuple(t.shape)}); the model takes {channels}.')
    return t.detach().float()


def calibration_batches(model: nn.Module, calibration) -> list:
    """The calibration batches as a list, checked against what ``model`` takes.

    A backbone takes one tensor per batch (``N x C x H x W``, ``C`` its ``in_channels``); a neck
    with ``in_channels`` (the FPN) takes a tuple of feature maps per batch.
    """
    if calibration is None:
        raise ValueError("calibration=None: precision='int8' needs calibration data, an "
                         'iterable of input batches (e.g. [torch.randn(8, 3, 224, 224)] or a '
                         'few batches of real images).')
    if isinstance(calibration, torch.Tensor):
        calibration = [calibration]
    try:
        batches = list(calibration)
    except TypeError as err:
        raise TypeError(f'calibration: a {type(calibration).__name__} is not iterable; allowed: '
                        'an iterable of input tensors.') from err
    if not batches:
        raise ValueError('calibration is empty; give at least one input batch.')
    neck_channels = getattr(model, 'in_channels', None)
    if isinstance(neck_channels, Sequence):  # a neck: a tuple of feature maps per batch
        checked = []
        for i, batch in enumerate(batches):
            if not isinstance(batch, (tuple, list)) or len(batch) != len(neck_channels):
                raise ValueError(f'calibration: batch {i} is {type(batch).__name__}; '
                                 f'{type(model).__name__} takes a tuple of '
                                 f'{len(neck_channels)} feature maps with channels '
                                 f'{tuple(neck_channels)}.')
            checked.append(tuple(_check_tensor(t, f'batch {i} input {j}', c, 4)
                                 for j, (t, c) in enumerate(zip(batch, neck_channels))))
        return checked
    example = getattr(model, 'example_input_shape', None)
    # the channels the first conv reads (``in_channels`` means other things in other libraries:
    # mmpretrain's VGG leaves the last stage's width there)
    first_conv = next((m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    channels = first_conv.in_channels if first_conv is not None else None
    ndim = len(example) if example else None
    return [_check_tensor(b, f'batch {i}', channels, ndim) for i, b in enumerate(batches)]


# ---------------------------------------------------------------- graph passes
def _pool_geometry(pool: nn.MaxPool2d) -> tuple[tuple[int, int], ...]:
    """``(kernel, stride, padding, dilation)`` of ``pool``, each as (height, width)."""
    return tuple(_pair(v) for v in (pool.kernel_size, pool.stride or pool.kernel_size,
                                    pool.padding, pool.dilation))


def _pads_ceil_mode(pool: nn.MaxPool2d) -> bool:
    """Whether ``pool`` (ceil mode) can be traced in floor mode (with padding where a stride
    is above 1): no indices returned, and no stride long enough for a last window to start in
    the right padding (PyTorch drops such a window)."""
    return (pool.ceil_mode and not pool.return_indices
            and all(s <= d * (k - 1) + 1 - p for k, s, p, d in zip(*_pool_geometry(pool))))


def ceil_max_pool2d(pool: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor:
    """``pool(x)`` (a ceil-mode max pool) as a floor-mode pool over ``x`` padded with
    ``stride - 1`` rows and columns of ``-inf`` on the bottom and right: floor((n + stride - 1 -
    window) / stride) = ceil((n - window) / stride), so the sizes and values are the ceil-mode
    ones at any input size, and the pad is a constant (simple symbolic shapes for inductor)."""
    k, s, p, d = _pool_geometry(pool)
    if max(s) > 1:  # at stride 1 ceil and floor agree
        x = torch.nn.functional.pad(x, (0, s[1] - 1, 0, s[0] - 1), value=float('-inf'))
    return torch.nn.functional.max_pool2d(x, k, s, p, d, ceil_mode=False)


@contextmanager
def ceil_pools_padded(model: nn.Module):
    """While active, every ceil-mode ``nn.MaxPool2d`` of ``model`` that
    :func:`_pads_ceil_mode` allows runs as :func:`ceil_max_pool2d` (for ``torch.export``)."""
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d) and _pads_ceil_mode(m)]
    for pool in pools:
        pool.forward = functools.partial(ceil_max_pool2d, pool)
    try:
        yield
    finally:
        for pool in pools:
            del pool.forward


_OUT_OF_PLACE = {
    torch.ops.aten.relu_.default: torch.ops.aten.relu.default,
    torch.ops.aten.add_.Tensor: torch.ops.aten.add.Tensor,
    torch.ops.aten.hardtanh_.default: torch.ops.aten.hardtanh.default,
}


def out_of_place(gm: torch.fx.GraphModule) -> int:
    """In-place ``relu_``/``add_`` whose mutated input nothing reads later become out-of-place
    (the same values; one partition each for the quantizer). Returns how many changed."""
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    changed = 0
    for node in gm.graph.nodes:
        if node.op == 'call_function' and node.target in _OUT_OF_PLACE:
            mutated = node.args[0]
            if (isinstance(mutated, torch.fx.Node) and mutated.op != 'placeholder'
                    and all(order[u] <= order[node] for u in mutated.users)):
                node.target = _OUT_OF_PLACE[node.target]
                changed += 1
    return changed


def split_module_calls(gm: torch.fx.GraphModule) -> int:
    """Give each call of a module its own ``nn_module_stack`` entry (``relu``, ``relu@1``, ...),
    so a module called several times (one ``nn.ReLU`` for a whole block) makes one
    quantizer partition per call. Returns how many repeated calls were renamed."""
    calls: dict[str, int] = {}
    previous = None
    renamed = 0
    for node in gm.graph.nodes:
        stack = node.meta.get('nn_module_stack') if node.op == 'call_function' else None
        if not stack:
            previous = None
            continue
        key, (fqn, cls) = list(stack.items())[-1]
        if fqn != previous:
            calls[fqn] = calls.get(fqn, -1) + 1
        previous = fqn
        if calls[fqn]:
            stack = dict(stack)
            stack[key] = (f'{fqn}@{calls[fqn]}', cls)
            node.meta['nn_module_stack'] = stack
            renamed += 1
    return renamed


def _module_of(node: torch.fx.Node) -> str:
    stack = node.meta.get('nn_module_stack') or {}
    return list(stack.values())[-1][0].split('@')[0] if stack else node.name


def _weight_layers(gm: torch.fx.GraphModule) -> list[tuple[str, str, bool]]:
    """``(module name, op, int8?)`` of every conv/linear in a converted graph."""
    ops = {torch.ops.aten.conv1d.default: 'conv1d', torch.ops.aten.conv2d.default: 'conv2d',
           torch.ops.aten.conv3d.default: 'conv3d', torch.ops.aten.linear.default: 'linear'}
    layers = []
    for node in gm.graph.nodes:
        if node.op == 'call_function' and node.target in ops:
            weight = node.args[1]
            quantized = isinstance(weight, torch.fx.Node) and 'dequantize' in str(
                getattr(weight, 'target', ''))
            layers.append((_module_of(node), ops[node.target], quantized))
    return layers


# ---------------------------------------------------------------- the quantized model
class QuantizedModel(nn.Module):
    """An int8 model made by :func:`quantize_int8`: inference only (``train()`` raises).

    Calls the lowered graph (float input, float outputs, the same tuple as the float model) and
    publishes the float model's ``out_channels``/``out_strides``/``output_shape()``, so necks
    such as ``FPN.from_backbone`` accept it.
    """

    def __init__(self, graph: nn.Module, source: nn.Module, report: QuantizeReport,
                 lowered: bool = True) -> None:
        super().__init__()
        self.graph = graph
        self.lowered = lowered
        self.report = report
        self.source_type = type(source).__name__
        for key in ('out_channels', 'out_strides', 'out_indices', 'example_input_shape'):
            if hasattr(source, key):
                setattr(self, key, getattr(source, key))
        self._specs = source.output_shape() if hasattr(source, 'output_shape') else None
        self.training = False

    def output_shape(self):
        if self._specs is None:
            raise AttributeError(f'{self.source_type} has no output_shape().')
        return self._specs

    def train(self, mode: bool = True) -> QuantizedModel:
        if mode:
            raise RuntimeError(f'{self.source_type} is quantized to int8 (post-training, for '
                               'inference) and cannot train; train the float model and quantize '
                               'it again.')
        return self  # the exported graph has no train/eval mode to switch

    def forward(self, *inputs):
        with torch.no_grad():
            return self.graph(*(x.float() if isinstance(x, torch.Tensor) else
                                tuple(t.float() for t in x) for x in inputs))


def _as_args(batch) -> tuple:
    return (batch, ) if isinstance(batch, torch.Tensor) else (tuple(batch), )


def _as_tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out, )


def _flat(out) -> torch.Tensor:
    return torch.cat([o.detach().float().flatten() for o in _as_tuple(out)])


def _dynamic_shapes(batch) -> tuple:
    auto = torch.export.Dim.AUTO
    if isinstance(batch, torch.Tensor):
        return ({i: auto for i in [0] + list(range(2, batch.dim()))}, )
    return (tuple({0: auto, 2: auto, 3: auto} for _ in batch), )


def quantize_int8(model: nn.Module, calibration: Iterable, *, exclude: Sequence[str] = (),
                  lower: bool = True, cache_dir: str | None = None,
                  max_shapes: int = 4) -> QuantizedModel:
    """Post-training static int8 quantization of ``model`` (eval mode, BN folded or not).

    Args:
        model: A backbone or neck on the CPU.
        calibration: An iterable of input batches (tensors; tuples of feature maps for a neck),
            normalized as the model takes them. A few batches of real inputs give the best
            ranges.
        exclude: Module names (e.g. ``'conv1'``, ``'layer4'``) kept in float.
        lower: Lower with inductor + freezing (oneDNN int8 kernels) into cached AOTInductor
            packages, one per input shape. ``False`` returns the reference q/dq model (int8
            rounding computed in fp32: slow, for checking accuracy).
        cache_dir: Where the lowered packages are kept (see :func:`~.compiled.cache_dir`).
        max_shapes: Input shapes lowered at most; later new shapes run the q/dq graph.

    Returns:
        A :class:`QuantizedModel` whose ``report`` lists the int8 and the float layers.

    Example:
        >>> from mmbackbones.models import ResNet
        >>> model = ResNet(depth=18).eval()
        >>> q = quantize_int8(model, [torch.randn(2, 3, 64, 64)])
        >>> [tuple(o.shape) for o in q(torch.randn(1, 3, 64, 64))][-1]
        (1, 512, 2, 2)
    """
    reason = why_no_torchao()
    if reason is not None:
        raise ImportError(f"precision='int8' needs {reason}.")
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if not isinstance(exclude, (list, tuple)):
        raise TypeError(f'exclude={exclude!r}; allowed: a list of module names.')
    names = dict(model.named_modules())
    unknown = [n for n in exclude if n not in names]
    if unknown:
        raise KeyError(f'exclude: no module named {unknown} in {type(model).__name__}.')
    batches = calibration_batches(model, calibration)
    model.eval()
    report = QuantizeReport(calibration_batches=len(batches))

    first = _as_args(batches[0])
    with torch.no_grad():
        reference = model(*first)
        with ceil_pools_padded(model):
            gm = torch.export.export(model, first,
                                     dynamic_shapes=_dynamic_shapes(batches[0])).module()
    out_of_place(gm)
    split_module_calls(gm)
    gm.recompile()

    quantizer = xiq.X86InductorQuantizer()
    # weights per output channel (symmetric int8), activations per tensor (uint8); 7-bit
    # activations on CPUs without VNNI, whose u8 x s8 products can saturate (torchao's advice)
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config(
        reduce_range=not cpu_has_vnni()))
    for name in exclude:
        quantizer.set_module_name_qconfig(name, None)
    prepared = prepare_pt2e(gm, quantizer)
    with torch.no_grad():
        for batch in batches:
            prepared(*_as_args(batch))
    converted = convert_pt2e(prepared)

    excluded = tuple(exclude)
    for module, op, int8 in _weight_layers(converted):
        if int8:
            report.quantized.append(module)
        elif op == 'conv3d':
            report.kept.append((module, 'conv3d: the x86 inductor quantizer has no 3D conv '
                                'pattern'))
        elif any(module == e or module.startswith(e + '.') for e in excluded):
            report.kept.append((module, 'excluded'))
        else:
            report.kept.append((module, f'{op} not annotated by the x86 inductor quantizer'))

    graph: nn.Module = converted
    if lower:  # freezing folds each q/dq pair and conv into a pre-packed int8 oneDNN conv
        # the per-tensor activation scales are literals of the graph's code: part of the key
        graph = CompiledModel(converted, cache_dir=cache_dir, max_shapes=max_shapes,
                              key_extra=dict(graph=converted.code))
    quantized = QuantizedModel(graph, model, report, lowered=lower)
    with torch.no_grad():  # compiles (or loads) now, so a user's first call is fast; checks it
        out = quantized(*first)
    shapes = [tuple(o.shape) for o in _as_tuple(out)]
    expected = [tuple(o.shape) for o in _as_tuple(reference)]
    if shapes != expected:
        raise RuntimeError(f'quantize_int8: the int8 graph of {type(model).__name__} returns '
                           f'shapes {shapes} where the float model returns {expected}: an '
                           'inductor lowering changed a shape. lower=False gives the reference '
                           'graph.')
    report.cosine = torch.nn.functional.cosine_similarity(
        _flat(reference), _flat(out), dim=0).item()
    return quantized
