"""Shared test helpers: what is registered, how to build it small, foreign-weight plumbing."""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import os.path as osp
import re
from collections import Counter
from dataclasses import dataclass
from types import ModuleType

import pytest
import torch
import torch.nn as nn

import mmbackbones  # noqa: F401  (registers everything)
from mmbackbones.models.backbones import BaseBackbone
from mmbackbones.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The shipped model configs (``configs/_base_/models``).
MODEL_CONFIGS = osp.join(ROOT, 'configs', '_base_', 'models')
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


#: Arguments that build each registered backbone *class* small enough for the registry-wide
#: tests (a class needs at least the arguments it has no default for). A new family adds a row.
SMALL_CLASS_ARGS: dict[str, dict] = {
    'GoogLeNet': dict(norm_cfg=dict(type='BN')),
    'Res2Net': dict(depth=50, base_width=8, base_channels=16),
    'ResNeXt': dict(depth=50, groups=8, base_width=4, base_channels=16),
    'ResNet': dict(depth=18),
    'ResNet3d': dict(depth=18, base_channels=16),
    'ResNetV1c': dict(depth=50, base_channels=16),
    'ResNetV1d': dict(depth=50, base_channels=16),
    'ResNet_CIFAR': dict(depth=18),
    'VGG': dict(depth=11, norm_cfg=dict(type='BN')),
}
#: Arguments that shrink every named variant of a family (fewer stages, narrower layers), by the
#: family class or its nearest base listed here; a variant's fixed arguments are never applied.
SHRINK_VARIANT_ARGS: dict[str, dict] = {
    'ResNet': dict(base_channels=16, num_stages=2),  # ResNeXt, Res2Net, V1c/V1d, subclasses
    'VGG': dict(num_stages=3),
}


def small_args(name: str) -> dict:
    """The arguments :func:`build_backbone` gives the registered ``name``."""
    obj = MODELS.get(name)
    if isinstance(obj, type):
        if name not in SMALL_CLASS_ARGS:
            raise KeyError(f'{name} is registered but has no row in tests/conftest.py '
                           'SMALL_CLASS_ARGS: add the arguments that build it small.')
        return dict(SMALL_CLASS_ARGS[name])
    shrink = next((SHRINK_VARIANT_ARGS[c.__name__] for c in obj.variant_of.__mro__
                   if c.__name__ in SHRINK_VARIANT_ARGS), {})
    return {k: v for k, v in shrink.items() if k not in obj.fixed}


def accepts(name: str, arg: str) -> bool:
    """Whether the registered ``name`` takes the constructor argument ``arg`` (following
    ``**kwargs`` constructors to their parents)."""
    import inspect
    obj = MODELS.get(name)
    for klass in getattr(obj, 'variant_of', obj).__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters
        if arg in params:
            return True
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return False
    return False


def build_backbone(name: str, **overrides) -> BaseBackbone:
    """Build a registered entry small (:func:`small_args`), plus ``overrides``."""
    model = MODELS.build(dict(type=name, **{**small_args(name), **overrides}))
    assert isinstance(model, BaseBackbone)
    return model


def seeded_input(*shape: int, seed: int = 1) -> torch.Tensor:
    """A random input that is the same in every run (the foreign-weight comparisons)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


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


def assert_drop_path_rises_to(model: BaseBackbone, rate: float, x: torch.Tensor) -> None:
    """Stochastic depth of a ResNet-like ``model``: none at the first block, ``rate`` at the last;
    the outputs are deterministic in eval mode and random in train mode."""
    blocks = [b for layer in model.stages() for b in layer]
    assert type(blocks[0].drop_path).__name__ == 'Identity'  # rate 0 at the first block
    assert blocks[-1].drop_path.drop_prob == pytest.approx(rate)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x)[-1], model(x)[-1])
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        assert not torch.allclose(model(x)[-1], model(x)[-1])


def context_block_plugins(position: str) -> list[dict]:
    """mmcv's ContextBlock at ``position`` of every block of stages 2-4 (mmdet's plugin list)."""
    return [dict(cfg=dict(type='ContextBlock', ratio=1. / 4), stages=(False, True, True, True),
                 position=position)]


def assert_context_block_runs(model: nn.Module, block: nn.Module, position: str,
                              in_channels: int) -> None:
    """Of a ResNet-like ``model`` built with :func:`context_block_plugins`: stage 1 has no plugin,
    ``block``'s sits at ``position`` with ``in_channels`` and runs in ``model``'s forward."""
    assert not hasattr(model.layer1[0], 'context_block')
    assert block.plugin_names[position] == ['context_block']
    assert block.context_block.in_channels == in_channels
    called = []
    block.context_block.register_forward_hook(lambda *a: called.append(1))
    with torch.no_grad():
        model.eval()(torch.rand(1, 3, 64, 64))
    assert called


#: mmaction2 1.x ``_base_/models/i3d_r50.py``, the backbone dict as published (type aside).
I3D_R50 = dict(type='ResNet3d', pretrained2d=True, pretrained='torchvision://resnet50', depth=50,
               conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
               conv_cfg=dict(type='Conv3d'), norm_eval=False,
               inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
               zero_init_residual=False)
#: I3D's stem and inflation pattern (of :data:`I3D_R50`), for inflating a 2D ResNet-50.
I3D = dict(conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
           inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)))
#: torchvision's video ``r3d_18`` as our ResNet3d.
R3D_18 = dict(type='ResNet3d', depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
              with_pool2=False, temporal_strides=(1, 2, 2, 2), inflate=1)


@functools.lru_cache(maxsize=1)
def mmaction_resnet3d_module() -> ModuleType:
    """mmaction2's resnet3d.py (importable once mmbackbones.compat.mmaction has put a stand-in
    for the subpackage mmaction2 1.2.0's wheel lacks)."""
    from mmbackbones.compat.mmaction import ensure_mmaction_importable
    ensure_mmaction_importable()
    return importlib.import_module('mmaction.models.backbones.resnet3d')


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
    from mmbackbones.config import INSTALL_HINTS
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


def why_no_tracking(with_mmdet: bool = False) -> str | None:
    """Why the tracking tier (scipy, motmetrics, trackeval; with ``with_mmdet`` also mmdet) cannot
    be used here, or None. The reason names the install command."""
    from mmbackbones.config import INSTALL_HINTS
    missing = [m for m in ('scipy', 'motmetrics', 'trackeval') if not has_module(m)]
    if missing:
        return f'{", ".join(missing)} not installed ({INSTALL_HINTS["tracking"]})'
    if with_mmdet and why_no_mmdet() is not None:
        return f'{why_no_mmdet()}; the tracking tier needs it ({INSTALL_HINTS["tracking"]})'
    return None


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
    from mmbackbones.demos.datasets import prepare_digits
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


def train_config(folder, name: str, text: str) -> tuple[str, str]:
    """Write the config ``text`` to ``folder/<name>.py`` and train it with tools/train.py into
    ``folder/train``; return the config's path and the work dir."""
    config = str(folder / f'{name}.py')
    with open(config, 'w') as f:
        f.write(text)
    work_dir = str(folder / 'train')
    # a visualizer another test of this process created would take this run's scalars elsewhere
    from mmengine.visualization import Visualizer
    for cls in [Visualizer, *Visualizer.__subclasses__()]:
        cls._instance_dict.clear()
    assert tool('train.py').main([config, '--work-dir', work_dir]) == 0
    return config, work_dir


@dataclass
class TrainedJob:
    """A job trained by :func:`train_job`: what it logged and its best checkpoint."""

    config: str
    work_dir: str
    losses: list[float]
    #: The validation rows (those that hold the job's metric), one per evaluation.
    metrics: list[dict]
    best_epoch: int
    checkpoint: str

    @property
    def best(self) -> dict:
        """The validation row of the best checkpoint."""
        return self.metrics[self.best_epoch - 1]


PLOTS = ('val_predictions.png', 'loss.png', 'val_metrics.png')


def short_schedule(epochs: int, start_factor: float, warmup_steps: int) -> str:
    """The end of a short job's config: ``epochs`` epochs after a linear warm-up from
    ``start_factor`` over ``warmup_steps`` steps, a logged loss every step, deterministic."""
    return (f'train_cfg = dict(max_epochs={epochs})\n'
            f"param_scheduler = [dict(type='LinearLR', start_factor={start_factor}, "
            f'by_epoch=False, begin=0, end={warmup_steps})]\n'
            'default_hooks = dict(logger=dict(interval=1))\n'
            'randomness = dict(seed=0, deterministic=True)\n')


def train_job(folder, name: str, text: str, metric: str, min_png: int) -> TrainedJob:
    """Train a job (:func:`train_config`) that keeps its best checkpoint by ``metric`` and draws
    :data:`PLOTS`; check that it kept exactly one, of an epoch where ``metric`` was highest, and
    drew every plot (each over ``min_png`` bytes)."""
    config, work_dir = train_config(folder, name, text)
    rows = json_rows(work_dir, osp.join('vis_data', 'scalars.json'))
    prefix = f'best_{metric.replace("/", "_")}_epoch_'
    best = [f for f in os.listdir(work_dir) if f.startswith(prefix)]
    assert len(best) == 1, best
    job = TrainedJob(config, work_dir, losses=[r['loss'] for r in rows if 'loss' in r],
                     metrics=[r for r in rows if metric in r],
                     best_epoch=int(best[0][len(prefix):-len('.pth')]),
                     checkpoint=osp.join(work_dir, best[0]))
    assert job.best[metric] == max(r[metric] for r in job.metrics)
    for plot in PLOTS:
        assert osp.getsize(osp.join(work_dir, plot)) > min_png, plot
    return job


def reload_reproduces(job: TrainedJob, test_dir: str, keys, min_png: int, *extra: str) -> None:
    """tools/test.py (with ``extra`` arguments) reloads the job's best checkpoint, reproduces its
    validation metrics ``keys`` and draws ``test_predictions.png`` (over ``min_png`` bytes)."""
    assert tool('test.py').main([job.config, job.checkpoint, '--work-dir', test_dir,
                                 *extra]) == 0
    tested = json_rows(test_dir, '*.json')[-1]
    for key in keys:
        assert tested[key] == job.best[key], key
    assert osp.getsize(osp.join(test_dir, 'test_predictions.png')) > min_png


def assert_says_what_to_install(config: str, package: str, monkeypatch, capsys) -> None:
    """tools/train.py on ``config``, run from the checkout where ``package`` is not installed,
    stops with one line that names the tier's install command."""
    import mmengine.config.config as mmengine_config
    monkeypatch.setattr(mmengine_config, 'is_installed', lambda name: False)
    monkeypatch.chdir(ROOT)
    assert tool('train.py').main([config]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {config} needs {package}, which is not installed: '
                   f'bash tools/install.sh --with-{package}']


@pytest.fixture(scope='session')
def digit_sources() -> dict:
    """scikit-learn's digits as the generators read them (``digit_canvas.source_digits()``)."""
    from mmbackbones.demos.datasets.digit_canvas import source_digits
    return source_digits()


# ------------------------------------------------------------------ the test session and CI
#: A skip reason naming a tier's install command (``bash tools/install.sh --with-mmdet``,
#: ``bash tools/build_mmcv.sh``): the test needs an optional tier. CI's tiers part re-runs
#: exactly the tests the basic part skipped for such a reason (``MMBB_TIER_SKIPS_OUT``) and fails
#: if one of them skips again (``MMBB_REQUIRE_TIERS``), so a tier that did not install cannot
#: pass unnoticed.
TIER_SKIP = re.compile(r'tools/(?:install\.sh --(?:with-[\w-]+|all)|build_mmcv\.sh)')

_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
if _WORKERS > 1:  # pytest-xdist: share the cores between the workers instead of oversubscribing
    _THREADS = max(1, (os.cpu_count() or 1) // _WORKERS)
    torch.set_num_threads(_THREADS)
    os.environ.setdefault('OMP_NUM_THREADS', str(_THREADS))  # for the tools tests start


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)


def tier_skips(terminalreporter) -> list[str]:
    """Node ids of the tests this session skipped because an optional tier is missing."""
    return sorted({r.nodeid for r in terminalreporter.stats.get('skipped', [])
                   if TIER_SKIP.search(_skip_reason(r))})


def pytest_sessionfinish(session, exitstatus) -> None:
    config = session.config
    if hasattr(config, 'workerinput'):  # an xdist worker: hand the counts to the controller
        config.workeroutput['validation_cases'] = dict(_validation_cases())
        return
    reporter = config.pluginmanager.get_plugin('terminalreporter')
    if reporter is None:
        return
    skipped = tier_skips(reporter)
    out = os.environ.get('MMBB_TIER_SKIPS_OUT')
    if out:
        from mmbackbones.utils.fileio import atomic_write_path
        with atomic_write_path(out) as tmp, open(tmp, 'w') as f:
            f.writelines(f'{nodeid}\n' for nodeid in skipped)
    if os.environ.get('MMBB_REQUIRE_TIERS') and skipped:
        reporter.write_line(f'MMBB_REQUIRE_TIERS: {len(skipped)} test(s) skipped for a missing '
                            'tier although every tier should be installed:', red=True)
        for nodeid in skipped:
            reporter.write_line(f'  {nodeid}')
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_WORKER_CASES: Counter = Counter()


def _validation_cases() -> Counter:
    import sys
    module = sys.modules.get('test_validation')
    return Counter(getattr(module, 'CASES', None) or {}) + _WORKER_CASES


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """xdist: add up the bad-input counts of every worker."""
    _WORKER_CASES.update(getattr(node, 'workeroutput', {}).get('validation_cases', {}))


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the bad-input case counts of the validation property test."""
    cases = _validation_cases()
    if cases:
        terminalreporter.write_line(
            f"bad-input cases (tests/test_validation.py): {cases['tried']} tried, "
            f"{cases['clear']} ended in a clear TypeError/ValueError/KeyError naming the argument")


@pytest.fixture(scope='session')
def trained_digits_resnet18(tmp_path_factory, digits_root) -> dict:
    """The main job (ResNet-18 on the embedded digits, its own config and schedule: 5 epochs,
    about 99% top-1) trained with tools/train.py, once per session, and its fp32 test-set
    predictions (tools/test.py --out): ``dict(config, checkpoint, options, work_dir,
    fp32=predictions)``. A weakly trained model (1 epoch, 75%) has so many near-ties that int8
    rounding flips a few more of them than the accuracy gate allows."""
    work = tmp_path_factory.mktemp('digits_r18')
    options = [f'train_dataloader.dataset.data_root={digits_root}',
               f'val_dataloader.dataset.data_root={digits_root}',
               f'test_dataloader.dataset.data_root={digits_root}']
    assert tool('train.py').main([DIGITS_CONFIG, '--work-dir', str(work / 'train'),
                                  '--cfg-options', *options]) == 0
    run = dict(config=DIGITS_CONFIG, checkpoint=str(work / 'train' / 'epoch_5.pth'),
               options=options, work_dir=str(work))
    run['fp32'] = digits_predictions(run, 'fp32')
    return run


def digits_predictions(run: dict, name: str, *extra: str) -> list[int]:
    """Predicted labels of ``run``'s checkpoint on the digits test set, through tools/test.py
    with ``extra`` arguments (e.g. ``--precision int8``), and the gt labels as ``run['gt']``."""
    import pickle
    out = osp.join(run['work_dir'], f'{name}.pkl')
    assert tool('test.py').main([run['config'], run['checkpoint'], '--work-dir',
                                 osp.join(run['work_dir'], name), '--out', out, *extra,
                                 '--cfg-options', *run['options']]) == 0
    with open(out, 'rb') as f:
        samples = pickle.load(f)
    run['gt'] = [int(s['gt_label'][0]) for s in samples]
    return [int(s['pred_label'][0]) for s in samples]


def digit_canvas_batch(n: int, split: str = 'val', size: int = 64) -> torch.Tensor:
    """``n`` digit canvases (``mmbackbones.demos.datasets.digit_canvas``) as an
    ``n x 3 x size x size`` batch, normalized like the digits configs."""
    import torch.nn.functional as F

    from mmbackbones.demos.datasets.digit_canvas import generate
    images = torch.stack([torch.from_numpy(c.image).float() for c in generate(split, n)])
    x = F.interpolate(images[:, None], size=(size, size), mode='bilinear', align_corners=False)
    return ((x - 77.85) / 95.85).expand(-1, 3, -1, -1).contiguous()


def assert_int8_keeps_accuracy(run: dict, int8: list[int]) -> None:
    """The int8 accuracy gate on ``run`` (:func:`trained_digits_resnet18`): fp32 trained (top-1
    above 90%), int8's top-1 within 0.5 point of fp32's, and >= 99% of the predictions agree."""
    fp32, gt = run['fp32'], run['gt']
    top1 = [100 * sum(p == g for p, g in zip(preds, gt)) / len(gt) for preds in (fp32, int8)]
    agreement = sum(a == b for a, b in zip(fp32, int8)) / len(fp32)
    assert top1[0] > 90, f'the main job did not train ({top1[0]:.1f}%)'
    assert abs(top1[1] - top1[0]) <= 0.5, top1
    assert agreement >= 0.99, agreement


def prefill_hub_cache(name: str, obj) -> str:
    """``torch.save(obj)`` where :mod:`mmbackbones.hub` caches the checkpoint ``name``
    (``'torchvision://resnet18'``, ``'mmbackbones://resnet50'``), with a stamp that records the
    published hash: the test's stand-in for the published file, which the hub then takes as
    checked, without hashing it or touching the network. Returns the path."""
    from urllib.parse import urlparse

    from mmbackbones import hub
    url, sha256 = hub.resolve_url(name)
    path = osp.join(hub.cache_dir(), osp.basename(urlparse(url).path))
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(obj, path)
    published = hub.expected_hash(url, sha256)
    hub._write_stamp(path, published.ljust(64, '0'), os.stat(path))
    return path


@pytest.fixture(scope='session', autouse=True)
def _compile_cache(tmp_path_factory):
    """Compiled packages of the tests (``optimize()`` compiles by default on CPUs with native
    bf16, and int8 always) go to a folder of the session, not the user's cache."""
    folder = str(tmp_path_factory.mktemp('compile-cache'))
    previous = os.environ.get('MMBACKBONES_COMPILE_CACHE')
    os.environ['MMBACKBONES_COMPILE_CACHE'] = folder
    yield folder
    if previous is None:
        os.environ.pop('MMBACKBONES_COMPILE_CACHE', None)
    else:
        os.environ['MMBACKBONES_COMPILE_CACHE'] = previous


def torus_shift(a, b) -> tuple[int, int]:
    """The shift ``(dx, dy)`` on the torus (``y`` down) that best maps frame ``a`` onto frame
    ``b`` (numpy arrays): the peak of their circular cross-correlation."""
    import numpy as np
    fa, fb = np.fft.fft2(a - a.mean()), np.fft.fft2(b - b.mean())
    corr = np.real(np.fft.ifft2(np.conj(fa) * fb))
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    size = a.shape[0]
    return ((dx + size // 2) % size - size // 2, (dy + size // 2) % size - size // 2)


def clip_motion(frames) -> tuple[float, float]:
    """The path ``(dx, dy)`` of what moves in a clip (``T x H x W`` numpy array) over a static
    scene: the sum of the frame-to-frame torus shifts with the per-pixel median (the scene)
    removed."""
    import numpy as np
    moving = frames.astype(np.float32) - np.median(frames.astype(np.float32), axis=0)
    return tuple(float(v) for v in np.sum([torus_shift(moving[t], moving[t + 1])
                                           for t in range(len(moving) - 1)], 0))
