"""Shared test helpers: what is registered, how to build it small, foreign-weight plumbing."""
from __future__ import annotations

import importlib
import importlib.util
import os
import os.path as osp
import re
from types import ModuleType

import pytest
import torch
import torch.nn as nn

import mmbackbones  # noqa: F401  (registers everything)
from mmbackbones.models.backbones import BaseBackbone
from mmbackbones.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The README's main config: ResNet-18 on the embedded digits.
DIGITS_CONFIG = osp.join(ROOT, 'configs', 'resnet', 'resnet18_8xb16_digits.py')


def registered_backbones() -> list[str]:
    """Every registered name (class or named variant) that builds a BaseBackbone."""
    names = []
    for name, obj in sorted(MODELS.module_dict.items()):
        cls = obj if isinstance(obj, type) else getattr(obj, 'variant_of', None)
        if isinstance(cls, type) and issubclass(cls, BaseBackbone):
            names.append(name)
    return names


def build_backbone(name: str, **overrides) -> BaseBackbone:
    """Build a registered entry small, plus ``overrides``: a class with its ``example_args``, a
    named variant shrunk by its class's ``small_args`` (those the variant does not fix)."""
    obj = MODELS.get(name)
    if isinstance(obj, type):
        args = dict(obj.example_args)
    else:
        args = {k: v for k, v in obj.variant_of.small_args.items() if k not in obj.fixed}
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


#: The optional tiers whose models need full mmcv (compiled ops), not mmcv-lite.
NEEDS_MMCV_OPS = ('mmdet', 'mmseg')


def why_no_tier(package: str) -> str | None:
    """Why the optional tier ``package`` (e.g. ``'mmdet'``) cannot be used here, or None.

    The reason names the install command, so a skipped test says how to run it. mmaction2's
    recognizers run on mmcv-lite; mmdet and mmseg need full mmcv. The contained fixes of
    :mod:`mmbackbones.compat` are applied first (mmaction2 1.2.0 needs one to import its models).
    """
    from mmbackbones.compat import apply_compat_fixes
    from mmbackbones.engine.config import INSTALL_HINTS
    install = INSTALL_HINTS.get(package, f'pip install {package}')
    if not has_module(package):
        return f'{package} is not installed ({install})'
    if package in NEEDS_MMCV_OPS and not mmcv_ops_available():
        return f'{package} needs full mmcv with compiled ops ({install})'
    apply_compat_fixes()
    try:
        importlib.import_module(f'{package}.models')
    except Exception as err:  # noqa: BLE001
        return f'{package}.models cannot be imported: {err} ({install})'
    return None


def why_no_mmdet() -> str | None:
    """Why mmdetection cannot be used here, or None when it can."""
    return why_no_tier('mmdet')


def config_scopes(path: str) -> list[str]:
    """The packages whose configs ``path`` inherits, directly or through its local ``_base_``
    files (``_base_ = 'mmdet::...'`` -> ``mmdet``)."""
    scopes, todo, seen = set(), [os.path.abspath(path)], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        with open(current, encoding='utf-8') as f:
            text = f.read()
        scopes.update(re.findall(r"""['"]([A-Za-z_]\w*)::""", text))
        for base in re.findall(r"""['"]([^'":]+\.py)['"]""", text):
            base = os.path.join(os.path.dirname(current), base)
            if os.path.isfile(base):
                todo.append(os.path.abspath(base))
    return sorted(scopes)


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def mmcv_ops_available() -> bool:
    try:
        import mmcv.ops  # noqa: F401
        return True
    except (ImportError, OSError):
        return False


def _scope_names() -> set:
    from mmengine.registry import DefaultScope
    return set(DefaultScope._instance_dict)


#: The default scopes that exist when the test session starts (none, normally).
_SESSION_SCOPES = _scope_names()


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """mmengine's default scope is process-global: a test or fixture that sets one (mmdet's
    ``register_all_modules``, a Runner) would change how plain type names resolve in every later
    test. After each test drop every scope created since the session started: also those of
    module- or session-scoped fixtures, which are set up before this fixture could see them."""
    from mmengine.registry import DefaultScope
    yield
    for name in _scope_names() - _SESSION_SCOPES:
        DefaultScope._instance_dict.pop(name, None)


@pytest.fixture
def no_grad_eval():
    with torch.no_grad():
        yield


#: Marks a test that compares with mmdetection; skipped, with the reason, where mmdet is unusable.
requires_mmdet = pytest.mark.skipif(why_no_mmdet() is not None, reason=str(why_no_mmdet()))


# ------------------------------------------------------------------ training runs
def tool(path: str) -> ModuleType:
    """Import ``tools/<path>`` (e.g. ``'train.py'``) as a module, to call its ``main(argv)``."""
    spec = importlib.util.spec_from_file_location(f'_tool_{osp.basename(path)[:-3]}',
                                                  osp.join(ROOT, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def digits_root(tmp_path_factory) -> str:
    """The embedded digits dataset, prepared once per test session."""
    from mmbackbones.datasets import prepare_digits
    return prepare_digits(str(tmp_path_factory.mktemp('data') / 'digits'))


TINY = """
_base_ = {config!r}
train_cfg = dict(max_epochs={epochs})
# 4 iterations of 16 images per epoch, 32 validation images, deterministic
train_dataloader = dict(dataset=dict(data_root={root!r}, indices=64))
val_dataloader = dict(dataset=dict(data_root={root!r}, indices=32))
test_dataloader = val_dataloader
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, T_max={epochs})]
randomness = dict(seed=0, deterministic=True)
experiment_name = {name!r}
"""


def tiny_config(tmp_path, data_root: str, name: str, epochs: int = 2, extra: str = '') -> str:
    """A digits config of a few iterations per epoch, written to ``tmp_path/<name>.py``."""
    path = str(tmp_path / f'{name}.py')
    with open(path, 'w') as f:
        f.write(TINY.format(config=DIGITS_CONFIG, epochs=epochs, root=data_root, name=name) +
                extra)
    return path


def json_rows(work_dir: str, pattern: str) -> list[dict]:
    """The JSON lines of the newest ``work_dir/<timestamp>/pattern`` file an mmengine run wrote."""
    import glob
    import json
    path = sorted(glob.glob(osp.join(work_dir, '*', pattern)))[-1]
    with open(path) as f:
        return [json.loads(line) for line in f]


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the bad-input case counts of the validation property test (issue 13)."""
    import sys
    module = sys.modules.get('test_validation')
    cases = getattr(module, 'CASES', None)
    if cases:
        terminalreporter.write_line(
            f"bad-input cases (tests/test_validation.py): {cases['tried']} tried, "
            f"{cases['clear']} ended in a clear TypeError/ValueError/KeyError naming the argument")
