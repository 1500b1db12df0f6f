"""Shared test helpers: what is registered, how to build it small, foreign-weight plumbing."""
from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn as nn

import mmbackbones  # noqa: F401  (registers everything)
from mmbackbones.models.backbones import BaseBackbone
from mmbackbones.registry import MODELS


def registered_backbones() -> list[str]:
    """Every registered name (class or named variant) that builds a BaseBackbone."""
    names = []
    for name, obj in sorted(MODELS.module_dict.items()):
        if isinstance(obj, type):
            if issubclass(obj, BaseBackbone):
                names.append(name)
        elif getattr(obj, '__module__', '').startswith('mmbackbones.models.backbones'):
            names.append(name)
    return names


def build_backbone(name: str, **overrides) -> BaseBackbone:
    """Build a registered entry with its class's ``example_args`` plus ``overrides``."""
    obj = MODELS.get(name)
    args = dict(obj.example_args) if isinstance(obj, type) else {}
    args.update(overrides)
    model = MODELS.build(dict(type=name, **args))
    assert isinstance(model, BaseBackbone)
    return model


def example_input(model: BaseBackbone, batch: int | None = None) -> torch.Tensor:
    shape = list(model.example_input_shape)
    if batch is not None:
        shape[0] = batch
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and norm statistic random values, so comparisons mean something
    (default init leaves BN at identity, which hides a swapped mean/var)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(('running_mean', 'bias')):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.dim() == 1:  # norm weights
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in)**0.5)
    return model


def assert_features_close(ours, theirs, atol=1e-4, rtol=1e-4) -> None:
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, f'output {i}: {tuple(a.shape)} vs {tuple(b.shape)}'
        err = (a - b).abs().max().item()
        scale = b.abs().max().item()
        assert torch.allclose(a, b, atol=atol * max(1.0, scale), rtol=rtol), \
            f'output {i}: max abs diff {err:.3g} (max |value| {scale:.3g})'


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_into_ours(path, **cfg) -> nn.Module:
    """Build ``cfg`` from our registry with ``init_cfg`` Pretrained ``path``, load, eval."""
    model = MODELS.build(dict(init_cfg=dict(type='Pretrained', checkpoint=str(path)), **cfg))
    model.init_weights()
    return model.eval()


def load_tool(path: str):
    """Import ``tools/<path>`` (e.g. ``'train.py'``) as a module, to call its ``main(argv)``."""
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    name = osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', osp.join(root, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def why_no_mmdet() -> str | None:
    """Why mmdetection cannot be used here, or None when it can."""
    if not has_module('mmdet'):
        return 'mmdet is not installed (bash tools/install.sh --with-mmdet)'
    if not mmcv_ops_available():
        return 'mmdet needs full mmcv with compiled ops (bash tools/install.sh --with-mmdet)'
    try:
        import mmdet.models  # noqa: F401
    except Exception as err:  # noqa: BLE001
        return f'mmdet.models cannot be imported: {err}'
    return None


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def mmcv_ops_available() -> bool:
    try:
        import mmcv.ops  # noqa: F401
        return True
    except (ImportError, OSError):
        return False


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """mmengine's default scope is process-global: a test that sets one (mmdet's
    ``register_all_modules``, a Runner) would change how plain type names resolve in every later
    test. Drop the scopes a test created."""
    from mmengine.registry import DefaultScope
    before = set(DefaultScope._instance_dict)
    yield
    for name in list(DefaultScope._instance_dict):
        if name not in before:
            del DefaultScope._instance_dict[name]


@pytest.fixture
def no_grad_eval():
    with torch.no_grad():
        yield


#: Marks a test that compares with mmdetection; skipped, with the reason, where mmdet is unusable.
requires_mmdet = pytest.mark.skipif(why_no_mmdet() is not None, reason=str(why_no_mmdet()))
