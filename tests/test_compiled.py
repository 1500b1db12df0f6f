"""Compiled inference: the default per CPU kind, cached AOTInductor packages shared by processes,
refused when what they were compiled for differs, and a bounded number of compiled shapes.

One package is compiled for the module (a 2-stage ResNet-18 of 8 base channels at 32 x 32); a
second process loads it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from mmbackbones.deploy import CompiledModel, choose_compile, optimize
from mmbackbones.deploy import compiled as compiled_module
from mmbackbones.utils import hardware

from conftest import ROOT, assert_features_close, build_backbone, randomize

SMALL = dict(base_channels=8, num_stages=2)
SHAPE = (2, 3, 32, 32)


def small_model():
    return randomize(build_backbone('resnet18', **SMALL), seed=3).eval()


@pytest.mark.parametrize('flags, precision, expected', [
    ({'avx2'}, 'fp32', False),  # not measured to pay: eager
    ({'avx2', 'avx512_bf16', 'avx512_vnni'}, 'bf16', True),  # EPYC with native bf16
    ({'avx512_bf16', 'amx_bf16', 'amx_int8'}, 'bf16', True),  # Xeon with AMX
    ({'avx512_bf16'}, 'fp32', False),  # fp32 asked for: the bf16 measurements do not apply
])
def test_default_compile_follows_the_cpu_kind(monkeypatch, flags, precision, expected):
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset(flags))
    chosen, why = choose_compile(None, precision, torch.device('cpu'))
    assert chosen is expected
    assert why.startswith('auto: ')
    assert choose_compile(not expected, precision, torch.device('cpu'))[0] is (not expected)
    with pytest.raises(TypeError, match="compile='yes'"):
        choose_compile('yes', precision, torch.device('cpu'))


def test_the_record_says_what_was_chosen(monkeypatch):
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx2'}))
    _, record = optimize(small_model())
    assert ('compile', 'off (eager)') in [s[:2] for s in record.steps]
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx512_bf16'}))
    fast, record = optimize(small_model())  # nothing compiles before the first call
    assert isinstance(fast, CompiledModel) and record.precision == 'bf16'
    assert 'native bf16' in dict((s[0], s[2]) for s in record.steps)['compile']


def test_package_key_covers_weights_shapes_and_torch(monkeypatch):
    model = small_model()
    sig = compiled_module.signature([torch.zeros(SHAPE)])
    key = compiled_module.package_key(model, sig)
    assert compiled_module.package_key(model, sig) == key
    assert compiled_module.package_key(model, compiled_module.signature(
        [torch.zeros(1, 3, 32, 32)])) != key
    assert compiled_module.package_key(model, sig, dict(graph='other')) != key
    with torch.no_grad():
        model.conv1.weight[0, 0, 0, 0] += 1e-3
    changed = compiled_module.package_key(model, sig)
    assert changed != key
    monkeypatch.setattr(torch, '__version__', '9.9.9')
    assert compiled_module.package_key(model, sig) != changed


@pytest.fixture(scope='module')
def compiled(tmp_path_factory):
    """A small model optimized with compile=True in a fresh cache: what the first call did, the
    model, its eager fp32 outputs and the cache folder."""
    cache = str(tmp_path_factory.mktemp('compiled'))
    torch.manual_seed(0)
    model = small_model()
    x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = model(x)
    fast, record = optimize(model, precision='fp32', compile=True, cache_dir=cache,
                            max_shapes=1)
    out = fast(x)
    return dict(fast=fast, x=x, out=out, expected=expected, cache=cache, model=model)


def test_compiled_outputs_agree_with_eager(compiled):
    (sig, kind, seconds, path), = compiled['fast'].events
    assert kind == 'compiled' and os.path.isfile(path) and path.startswith(compiled['cache'])
    assert_features_close(compiled['out'], compiled['expected'], atol=1e-4, rtol=1e-3)
    assert compiled['fast'].out_channels == compiled['model'].out_channels  # through the wrapper


def test_the_weights_are_frozen_into_the_package(compiled):
    """The package holds the weights as constants: changing the module afterwards does not
    reach the outputs (an unfrozen graph would read them at every call)."""
    conv1 = compiled['model'].conv1  # optimize() folded the model in place; the package has it
    with torch.no_grad():
        conv1.weight.mul_(-1)
        again = compiled['fast'](compiled['x'])
        conv1.weight.mul_(-1)
    assert_features_close(again, compiled['out'], atol=0, rtol=0)


def test_new_shapes_beyond_max_shapes_run_eagerly(compiled):
    fast = compiled['fast']
    x1 = compiled['x'][:1]
    out = fast(x1)  # max_shapes=1: no second compile
    assert fast.events[-1][1] == 'eager'
    assert_features_close(out, [o[:1] for o in compiled['out']], atol=1e-4, rtol=1e-3)
    assert len(os.listdir(compiled['cache'])) == 1


def test_a_second_process_loads_the_package(compiled, tmp_path):
    """A new process that builds the same model finds the package and loads it: no compile."""
    torch.save(compiled['x'], tmp_path / 'x.pt')
    script = textwrap.dedent(f"""
        import sys, torch
        sys.path.insert(0, {os.path.join(ROOT, 'tests')!r})
        from conftest import build_backbone, randomize
        from mmbackbones.deploy import optimize
        torch.manual_seed(0)
        model = randomize(build_backbone('resnet18', **{SMALL!r}), seed=3).eval()
        fast, _ = optimize(model, precision='fp32', compile=True, cache_dir={compiled['cache']!r})
        out = fast(torch.load({str(tmp_path / 'x.pt')!r}))
        torch.save(list(out), {str(tmp_path / 'out.pt')!r})
        print('EVENT', fast.events[0][1], round(fast.events[0][2], 2))
        """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    event = [line for line in done.stdout.splitlines() if line.startswith('EVENT')]
    assert event and event[0].split()[1] == 'loaded', done.stdout[-2000:]
    assert_features_close(torch.load(tmp_path / 'out.pt'), compiled['out'], atol=0, rtol=0)


def test_a_package_of_another_key_is_refused_and_removed(compiled, tmp_path):
    """A package found under a key it was not compiled for (copied, renamed, or the same name
    after the weights or torch changed) is refused, removed and compiled again."""
    (_, _, _, path), = [e for e in compiled['fast'].events if e[1] == 'compiled']
    with pytest.raises(compiled_module.PackageError, match='compiled for key'):
        compiled_module.load_package(path, 'f' * 64)
    cache = tmp_path / 'cache'
    cache.mkdir()
    model = small_model()
    fast = CompiledModel(model, cache_dir=str(cache))
    key = compiled_module.package_key(model, compiled_module.signature([compiled['x']]))
    wrong = cache / f'{key[:32]}.pt2'
    wrong.write_bytes(open(path, 'rb').read())  # another model's package at this key's name
    out = fast(compiled['x'])
    assert [e[1] for e in fast.events] == ['compiled']
    assert compiled_module.load_package(str(wrong), key) is not None
    with torch.no_grad():
        assert_features_close(out, model(compiled['x']), atol=1e-4, rtol=1e-3)


def test_max_shapes_is_checked():
    with pytest.raises(ValueError, match='max_shapes=0'):
        CompiledModel(small_model(), max_shapes=0)
