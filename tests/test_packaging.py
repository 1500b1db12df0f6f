"""The sdist and the wheel: what they hold, and that an install outside the checkout works.

``python -m build --no-isolation`` (the environment's setuptools, no network) builds the sdist and
then the wheel from the unpacked sdist, so a file the sdist forgets breaks the wheel build. The
installed package is then used from a folder outside the repository, where only the wheel's
``mmbackbones/.mim`` can provide configs, tools and the metafiles.
"""
from __future__ import annotations

import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# what a checkout holds that a build must not see (outputs, caches, datasets)
_IGNORE = shutil.ignore_patterns('.git', 'build', 'dist', '*.egg-info', 'work_dirs', 'data',
                                 '__pycache__', '.pytest_cache', '.ruff_cache', '.hypothesis',
                                 '.mim', 'site', '*.pth')


def _need(module: str, package: str, install: str | None = None) -> None:
    if importlib.util.find_spec(module) is None:
        install = install or f'pip install {package}, or pip install -e ".[tests]"'
        pytest.skip(f'{package} is not installed ({install})')


def _run(cmd: list[str], cwd: str, env: dict | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f'{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n' \
                                 f'{done.stderr[-3000:]}'
    return done.stdout


@pytest.fixture(scope='module')
def dists(tmp_path_factory) -> dict[str, str]:
    """``{'sdist': path, 'wheel': path}`` built from a copy of the checkout."""
    _need('build', 'build')
    work = tmp_path_factory.mktemp('pkg')
    src = str(work / 'src')
    shutil.copytree(ROOT, src, ignore=_IGNORE, symlinks=True)
    out = str(work / 'dist')
    _run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', out, src], cwd=str(work))
    names = os.listdir(out)
    wheel = [n for n in names if n.endswith('.whl')]
    sdist = [n for n in names if n.endswith('.tar.gz')]
    assert len(wheel) == 1 and len(sdist) == 1, names
    return {'wheel': osp.join(out, wheel[0]), 'sdist': osp.join(out, sdist[0])}


def _metafiles() -> list[str]:
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        return yaml.safe_load(f)['Import']


def test_wheel_contents(dists):
    with zipfile.ZipFile(dists['wheel']) as whl:
        names = set(whl.namelist())
        metadata = next(whl.read(n).decode() for n in names if n.endswith('.dist-info/METADATA'))
    mim = 'mmbackbones/.mim/'
    expected = [f'{mim}model-index.yml', f'{mim}configs/resnet/resnet18_8xb16_digits.py',
                f'{mim}configs/_base_/default_runtime.py', f'{mim}tools/train.py',
                f'{mim}tools/test.py', f'{mim}tools/misc/list_models.py',
                'mmbackbones/py.typed', 'mmbackbones/hub.py'] + \
               [mim + path for path in _metafiles()]
    missing = [n for n in expected if n not in names]
    assert not missing, f'not in the wheel: {missing}'
    assert any(n.endswith('.dist-info/licenses/LICENSE') for n in names), sorted(names)[-8:]
    assert not [n for n in names if n.startswith('tests/') or '/tests/' in n]
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    # every config of the checkout is shipped
    configs = {osp.relpath(osp.join(d, f), ROOT) for d, _, fs in os.walk(osp.join(ROOT, 'configs'))
               for f in fs if f.endswith(('.py', '.yml'))}
    assert not [c for c in configs if mim + c not in names]
    assert 'Requires-Python: >=3.10' in metadata
    assert 'License-Expression: Apache-2.0' in metadata
    requires = [line.split(': ', 1)[1] for line in metadata.splitlines()
                if line.startswith('Requires-Dist: ')]
    unconditional = {r.split(';')[0].split('<')[0].split('>')[0].split('=')[0].strip()
                     for r in requires if 'extra ==' not in r}
    assert {'torch', 'mmengine', 'tqdm', 'pyyaml', 'filelock', 'setuptools'} <= unconditional
    assert not [r for r in unconditional if r.startswith('mmcv')], 'mmcv is left to install.sh'


def test_check_wheel_contents(dists):
    _need('check_wheel_contents', 'check-wheel-contents')
    # W004: configs/tools under .mim are data, not importable modules (as in mmpretrain's wheel)
    _run([sys.executable, '-m', 'check_wheel_contents', '--ignore', 'W004', dists['wheel']],
         cwd=osp.dirname(dists['wheel']))


def test_sdist_contents(dists):
    with tarfile.open(dists['sdist']) as tar:
        names = {n.split('/', 1)[1] for n in tar.getnames() if '/' in n}
    for name in ('pyproject.toml', 'setup.py', 'LICENSE', 'CHANGELOG.md', 'README.md',
                 'model-index.yml', 'tools/train.py', 'mmbackbones/py.typed',
                 'configs/resnet/resnet18_8xb16_digits.py', *_metafiles()):
        assert name in names, f'{name} is not in the sdist'
    assert not [n for n in names if '.mim/' in n or '__pycache__' in n]


def _install(dist: str, target: str) -> dict:
    _run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation',
          '--disable-pip-version-check', '--no-index', '--target', target, dist],
         cwd=osp.dirname(target))
    # The installed copy goes first on the path; the environment supplies the dependencies.
    return {**os.environ, 'PYTHONPATH': target}


def test_wheel_installed_outside_the_checkout(dists, tmp_path):
    site = str(tmp_path / 'site')
    env = _install(dists['wheel'], site)
    elsewhere = str(tmp_path / 'elsewhere')
    os.makedirs(elsewhere)
    # one interpreter for the three checks: the package, list_models and get_flops from .mim
    out = _run([sys.executable, '-c', (
        'import os.path as osp, runpy, sys\n'
        'import mmbackbones\n'
        'from mmbackbones.checkpoint.catalogue import load_zoo, zoo_root\n'
        'print(osp.dirname(mmbackbones.__file__), zoo_root(), len(load_zoo()))\n'
        'tools = osp.join(zoo_root(), "tools")\n'
        'for tool, arg in (("misc/list_models.py", "resnet50"),\n'
        '                  ("analysis_tools/get_flops.py", "resnet18")):\n'
        '    sys.argv = [tool, arg]\n'
        '    try:\n'
        '        runpy.run_path(osp.join(tools, tool), run_name="__main__")\n'
        '    except SystemExit as e:\n'
        '        assert not e.code, (tool, e.code)\n')],
        cwd=elsewhere, env=env)
    package, root, count = out.splitlines()[0].split()
    assert package == osp.join(site, 'mmbackbones') and root == osp.join(package, '.mim')
    assert int(count) >= 40, out
    assert '25,557,032' in out and '4.089G' in out, out  # list_models' reference columns
    assert 'reference (ResNet metafile' in out and '11,689,512' in out, out  # get_flops'


def test_sdist_installs(dists, tmp_path):
    """pip builds the sdist's wheel itself; the result carries the .mim files too."""
    site = str(tmp_path / 'site')
    _install(dists['sdist'], site)
    mim = osp.join(site, 'mmbackbones', '.mim')
    for path in ('model-index.yml', 'tools/train.py', *_metafiles()):
        assert osp.isfile(osp.join(mim, path)), path
    assert osp.isfile(osp.join(site, 'mmbackbones', 'py.typed'))


def test_mim_lists_the_installed_package(dists, tmp_path):
    # openmim is no test dependency: its openxlab would pin setuptools 60 unless told otherwise
    _need('mim', 'openmim', "pip install openmim 'setuptools>=77.0.3,<81'")
    env = _install(dists['wheel'], str(tmp_path / 'site'))
    out = _run([sys.executable, '-m', 'mim', 'list'], cwd=str(tmp_path), env=env)
    assert any(line.split()[:1] == ['mmbackbones'] for line in out.splitlines()), out
