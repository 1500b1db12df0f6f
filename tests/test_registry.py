"""The registry: scoped names from mmengine/mmpretrain registries, default scope, errors."""
import os
import subprocess
import sys

import pytest
from mmengine.registry import DefaultScope

from mmbackbones.models import ResNet
from mmbackbones.registry import MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_fresh(code):
    """Run code in a new interpreter that has imported nothing of ours."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          timeout=300)


def test_scoped_type_builds_from_mmengine_root_without_importing_us():
    result = run_fresh(
        'import sys\n'
        'from mmengine.registry import MODELS\n'
        "assert 'mmbackbones' not in sys.modules\n"
        "m = MODELS.build(dict(type='mmbackbones.ResNet', depth=18))\n"
        'print(type(m).__module__)')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'mmbackbones.models.backbones.resnet'


def test_scoped_type_builds_from_mmpretrain_registry():
    pytest.importorskip('mmpretrain', reason='mmpretrain is not installed')
    result = run_fresh(
        'from mmpretrain.registry import MODELS\n'
        "m = MODELS.build(dict(type='mmbackbones.ResNetV1d', depth=50, out_indices=(3,)))\n"
        'print(type(m).__module__, m.out_indices)')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'mmbackbones.models.backbones.resnet (3,)'


def test_plain_type_builds_under_default_scope():
    result = run_fresh(
        'from mmengine.registry import MODELS\n'
        'from mmbackbones import register_all_modules\n'
        'register_all_modules()\n'
        "m = MODELS.build(dict(type='ResNet', depth=18))\n"
        'print(type(m).__module__)')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'mmbackbones.models.backbones.resnet'


def test_config_custom_imports_and_default_scope(tmp_path):
    from mmengine.config import Config
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text("custom_imports = dict(imports=['mmbackbones'])\n"
                        "default_scope = 'mmbackbones'\n"
                        "model = dict(type='ResNet', depth=34, out_indices=(-1,))\n")
    cfg = Config.fromfile(str(cfg_file))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    assert isinstance(model, ResNet) and model.out_indices == (3, )


def test_unknown_type_names_close_matches_and_custom_imports():
    with pytest.raises(KeyError) as info:
        MODELS.build(dict(type='mmbackbones.Resnet', depth=50))
    text = str(info.value)
    assert "type='mmbackbones.Resnet' is not registered" in text
    assert "Did you mean 'ResNet'" in text
    assert "custom_imports=dict(imports=['mmbackbones'])" in text
    assert 'ResNet' in MODELS and 'Resnet' not in MODELS


def test_get_returns_none_for_unknown_names_as_mmengine_does():
    assert MODELS.get('Resnet') is None and MODELS.get('mmbackbones.Resnet') is None
    assert MODELS.get('ResNet') is ResNet
    # a KeyError raised by a known type's constructor is not rewritten
    with pytest.raises(KeyError, match=r'depth=19 is not supported by ResNet'):
        MODELS.build(dict(type='ResNet', depth=19))


@pytest.mark.parametrize('registry', ['mmengine', 'mmpretrain'])
def test_unknown_scoped_type_from_another_registry_names_close_matches(registry):
    """A misspelt ``type='mmbackbones.X'`` built from mmengine's root registry or from a
    package's registry created before ours (an mmpretrain/mmdet config with custom_imports)."""
    if registry == 'mmpretrain':
        pytest.importorskip('mmpretrain', reason='mmpretrain is not installed')
    result = run_fresh(
        f'from {registry}.registry import MODELS\n'
        'import mmbackbones  # what custom_imports does\n'
        'try:\n'
        "    MODELS.build(dict(type='mmbackbones.ResNte', depth=50))\n"
        'except KeyError as err:\n'
        '    print(err)\n')
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "type='mmbackbones.ResNte' is not registered" in text, text
    assert "Did you mean 'ResNet'" in text
    assert "custom_imports=dict(imports=['mmbackbones'])" in text
