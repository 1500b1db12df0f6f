"""Compiled models that later processes load instead of compiling again.

:class:`CompiledModel` runs a model through AOTInductor packages (``torch.export`` +
``torch._inductor.aoti_compile_and_package`` with weight freezing): the weights become constants,
pre-packed for oneDNN, conv + ReLU and conv + add + ReLU fuse into single oneDNN calls, and the
whole graph runs from C++ without Python between the layers. One package is made per input
signature (shapes and dtypes) at the first call with it, and kept in a cache folder under a key
that covers everything the package depends on:

* the weights (every tensor of the state dict, by value) and the architecture (the module tree
  with every layer's settings);
* the input signature;
* torch's version, our version and the CPU flags the kernels were compiled for;
* what the caller adds (int8: the calibration and quantizer settings).

A later process that builds the same model loads the package (about a second for a ResNet-50)
instead of compiling it (about half a minute on 2 cores). A package is written to a temporary
name and renamed (:func:`~mmbackbones.utils.fileio.atomic_write_path`), so an interrupted compile
leaves no package; a package whose recorded key is not the one asked for (a copied or renamed
file) is refused, removed and compiled again.

A model called with ever new shapes does not compile without end: after ``max_shapes``
signatures, new ones run the wrapped model eagerly (logged once).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import os.path as osp
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ..utils.fileio import atomic_write_path
from ..utils.hardware import cpu_flags
from ..version import __version__
from .wrappers import _Wrapper

#: Where packages are kept unless ``cache_dir`` or ``$MMBACKBONES_COMPILE_CACHE`` says otherwise.
DEFAULT_CACHE_DIR = osp.join(osp.expanduser(os.environ.get('XDG_CACHE_HOME', '~/.cache')),
                             'mmbackbones', 'compiled')
#: CPU flags that change which kernels inductor and oneDNN compile.
KERNEL_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_bf16',
                'amx_int8', 'avx512_fp16', 'amx_fp16')


def cache_dir(path: str | None = None) -> str:
    """The package folder: ``path``, else ``$MMBACKBONES_COMPILE_CACHE``, else
    ``~/.cache/mmbackbones/compiled``."""
    return path or os.environ.get('MMBACKBONES_COMPILE_CACHE') or DEFAULT_CACHE_DIR


def signature(inputs: Sequence) -> tuple:
    """The shapes and dtypes of ``inputs`` (tensors, or tuples of tensors for a neck)."""
    return tuple(tuple((tuple(t.shape), str(t.dtype)) for t in x) if isinstance(x, (tuple, list))
                 else (tuple(x.shape), str(x.dtype)) for x in inputs)


def package_key(model: nn.Module, inputs_signature: tuple, extra: dict | None = None) -> str:
    """The SHA-256 that names ``model``'s package for ``inputs_signature``: weights by value,
    architecture, input signature, torch and mmbackbones versions, kernel CPU flags, ``extra``.

    Example:
        >>> from mmbackbones.models import ResNet
        >>> sig = signature([torch.zeros(1, 3, 32, 32)])
        >>> package_key(ResNet(depth=18), sig) == package_key(ResNet(depth=18), sig)
        False
    """
    digest = hashlib.sha256()
    described = dict(torch=torch.__version__, mmbackbones=__version__,
                     cpu=sorted(set(KERNEL_FLAGS) & cpu_flags()),
                     inputs=repr(inputs_signature), extra=extra or {},
                     architecture=repr(model))
    digest.update(json.dumps(described, sort_keys=True, default=repr).encode())
    for name, tensor in model.state_dict().items():
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)}'.encode())
        data = tensor.detach().cpu().contiguous().reshape(-1)  # 0-d tensors too
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b'')
    return digest.hexdigest()


class PackageError(RuntimeError):
    """A cached package that cannot be used (wrong key, unreadable); it was removed."""


def load_package(path: str, key: str) -> Callable:
    """The runner of the package at ``path``, checked to be the one ``key`` names.

    Raises:
        PackageError: The file is not a package of ``key`` (another torch, other weights, a
            copied file) or cannot be loaded.
    """
    try:
        runner = torch._inductor.aoti_load_package(path)
        recorded = runner.get_metadata().get('mmbackbones_key')
    except Exception as err:  # noqa: BLE001  (a damaged zip or .so fails in many ways)
        raise PackageError(f'{path} cannot be loaded ({type(err).__name__}: {err})') from err
    if recorded != key:
        raise PackageError(f'{path} was compiled for key {recorded}, not {key} (other weights, '
                           'shapes or torch version)')
    return runner


def compile_package(model: nn.Module, inputs: tuple, path: str, key: str) -> Callable:
    """Export ``model`` at ``inputs``, compile it with AOTInductor (weight freezing) into
    ``path`` (atomically) and return its runner."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with torch.no_grad():
        exported = torch.export.export(model, inputs)
        with atomic_write_path(path, keep_ext=True) as tmp:
            torch._inductor.aoti_compile_and_package(
                exported, package_path=tmp,
                inductor_configs={'freezing': True,
                                  'aot_inductor.metadata': {'mmbackbones_key': key}})
    return load_package(path, key)


class CompiledModel(_Wrapper):
    """``model`` run through cached AOTInductor packages, one per input signature (see the
    module docstring). Inference only; attributes it lacks are read from ``model``.

    Args:
        model: What to compile (an :class:`~mmbackbones.deploy.wrappers.InferenceModel`, a
            converted int8 graph, ...); its weights are read when a signature is first seen.
        cache_dir: The package folder (:func:`cache_dir`).
        max_shapes: Signatures compiled at most; later new ones run ``model`` eagerly.
        key_extra: More that the packages depend on (int8: calibration and quantizer).

    Attributes:
        events: What each new signature cost: ``(signature, 'compiled' | 'loaded' |
            'eager', seconds, path)``.
    """

    def __init__(self, model: nn.Module, cache_dir: str | None = None, max_shapes: int = 4,
                 key_extra: dict | None = None) -> None:
        super().__init__()
        if isinstance(max_shapes, bool) or not isinstance(max_shapes, int) or max_shapes < 1:
            raise ValueError(f'max_shapes={max_shapes!r}; allowed: an int >= 1.')
        self.model = model
        self.cache_dir = cache_dir
        self.max_shapes = max_shapes
        self.key_extra = dict(key_extra or {})
        self.events: list[tuple[tuple, str, float, str | None]] = []
        self._runners: dict[tuple, Callable] = {}

    def forward(self, *inputs):
        inputs = tuple(tuple(t.contiguous() for t in x) if isinstance(x, (tuple, list))
                       else x.contiguous() for x in inputs)  # the packages' strides
        sig = signature(inputs)
        runner = self._runners.get(sig)
        if runner is None:
            runner = self._runner_for(sig, inputs)
        with torch.no_grad():
            out = runner(*inputs)
        return tuple(out) if isinstance(out, list) else out

    def _runner_for(self, sig: tuple, inputs: tuple) -> Callable:
        start = time.perf_counter()
        if len(self._runners) >= self.max_shapes:
            if not any(kind == 'eager' for _, kind, _, _ in self.events):
                print_log(f'CompiledModel: {self.max_shapes} input shapes compiled; new shapes '
                          f'such as {sig} run eagerly (max_shapes={self.max_shapes}).',
                          logger='current', level=logging.WARNING)
            self.events.append((sig, 'eager', 0.0, None))
            self._runners[sig] = self._eager
            return self._eager
        key = package_key(self.model, sig, self.key_extra)
        path = osp.join(cache_dir(self.cache_dir), f'{key[:32]}.pt2')
        runner = None
        if osp.isfile(path):
            try:
                runner = load_package(path, key)
                kind = 'loaded'
            except PackageError as err:
                print_log(f'CompiledModel: refused the cached package: {err}; compiling again.',
                          logger='current', level=logging.WARNING)
                os.remove(path)
        if runner is None:
            runner, kind = compile_package(self.model, inputs, path, key), 'compiled'
        seconds = time.perf_counter() - start
        self.events.append((sig, kind, seconds, path))
        print_log(f'CompiledModel: {kind} {path} for inputs {sig} in {seconds:.1f} s',
                  logger='current')
        self._runners[sig] = runner
        return runner

    def _eager(self, *inputs):
        with torch.no_grad():
            return self.model(*inputs)
