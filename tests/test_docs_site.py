"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a page missing
from the file tree or a docstring the API reference cannot render fails it), and every page
under docs/ is in its navigation."""
from __future__ import annotations

import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def _mkdocs_config() -> dict:
    with open(osp.join(ROOT, 'mkdocs.yml')) as f:
        return yaml.safe_load(f)


def test_every_docs_page_is_in_the_nav():
    nav = set(_nav_pages(_mkdocs_config()['nav']))
    pages = {osp.relpath(osp.join(d, f), osp.join(ROOT, 'docs'))
             for d, _, files in os.walk(osp.join(ROOT, 'docs')) for f in files
             if f.endswith('.md')}
    assert pages - nav == set(), 'pages missing from mkdocs.yml nav'
    assert nav - pages == set(), 'nav entries without a page'


def test_the_index_table_lists_every_page():
    """docs/index.md's table of pages names every page of the nav but itself and the API
    reference."""
    with open(osp.join(ROOT, 'docs', 'index.md')) as f:
        index = f.read()
    pages = [p for p in _nav_pages(_mkdocs_config()['nav'])
             if p != 'index.md' and not p.startswith('api/')]
    missing = [p for p in pages if f']({p})' not in index]
    assert not missing, f'docs/index.md does not link {missing}'


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    for module, package in (('mkdocs', 'mkdocs'), ('material', 'mkdocs-material'),
                            ('mkdocstrings_handlers.python', 'mkdocstrings-python')):
        if importlib.util.find_spec(module.split('.')[0]) is None or \
                importlib.util.find_spec(module) is None:
            pytest.skip(f'{package} is not installed (pip install -e ".[docs]")')
    env = {**os.environ, 'NO_MKDOCS_2_WARNING': '1', 'PYTHONPATH': ROOT}
    done = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '--site-dir',
                           str(tmp_path / 'site')], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert (tmp_path / 'site' / 'api' / 'hub' / 'index.html').is_file()
    with open(tmp_path / 'site' / 'api' / 'hub' / 'index.html') as f:
        assert 'weights_entry' in f.read()  # the API reference rendered the docstrings
