"""The layers of docs/architecture.md hold: imports between our files run one way, down.

Every import of one of our modules counts: at the top of a file, inside a function, and
``importlib.import_module`` with a literal name. A module may import its own layer or a lower one,
never a higher one; the import graph of files has no cycle; an import inside a function is only
there to defer an optional dependency, and says so; the library below the demo tasks never names
them.
"""
from __future__ import annotations

import ast
import os.path as osp
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'mmbackbones'

#: docs/architecture.md's picture, bottom up: a module belongs to the layer of its longest
#: listed prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ('utilities and errors', ('mmbackbones.version', 'mmbackbones.utils',
                              'mmbackbones.checkpoint.errors')),
    ('registry', ('mmbackbones.registry', )),
    ('weights wing', ('mmbackbones.checkpoint', )),
    ('models', ('mmbackbones.models', )),
    ('deploy and engine', ('mmbackbones.compat', 'mmbackbones.config', 'mmbackbones.analysis',
                           'mmbackbones.deploy', 'mmbackbones.engine')),
    ('public API', ('mmbackbones', 'mmbackbones.build', 'mmbackbones.hub', 'mmbackbones.cli')),
    ('demo tasks', ('mmbackbones.demos', )),
    ('tools', ('tools', )),
]
#: Packages of one layer that never import each other.
SIBLINGS_APART = [('mmbackbones.deploy', 'mmbackbones.engine')]
#: What an import inside a function may defer, named in a comment on its line or the line above.
OPTIONAL = ('openvino', 'nncf', 'onnx', 'onnxruntime', 'torchao', 'mmpretrain', 'mmdet', 'mmseg',
            'mmaction', 'motmetrics', 'trackeval', 'matplotlib')


class Import(NamedTuple):
    source: str  # the importing module
    target: str  # the imported module
    path: str
    line: int
    in_function: bool
    comment: str  # the comment on the import's line, or on the line above


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def our_files() -> list[Path]:
    files = sorted(PACKAGE.rglob('*.py')) + sorted((ROOT / 'tools').rglob('*.py'))
    return [f for f in files if '__pycache__' not in f.parts]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split('.'))
    return path.with_suffix('.py').is_file() or (path / '__init__.py').is_file()


def _comment(lines: list[str], lineno: int) -> str:
    here = lines[lineno - 1].partition('#')[2]
    above = lines[lineno - 2].strip() if lineno > 1 else ''
    return here + (above if above.startswith('#') else '')


def imports_of(path: Path) -> Iterator[Import]:
    """Every import of one of our modules in ``path``."""
    source = module_name(path)
    package = source if path.name == '__init__.py' else source.rpartition('.')[0]
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    in_function = {id(node) for func in ast.walk(tree)
                   if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for node in ast.walk(func)}

    def found(target: str, node: ast.AST) -> Import:
        return Import(source, target, osp.relpath(path, ROOT), node.lineno,
                      id(node) in in_function, _comment(lines, node.lineno))

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            if not module.startswith('mmbackbones'):
                continue
            for alias in node.names:  # `from . import fuse` imports the module fuse
                sub = f'{module}.{alias.name}'
                yield found(sub if _is_module(sub) else module, node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith('mmbackbones'):
                    yield found(alias.name, node)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == 'import_module' and node.args):
            name = node.args[0]
            if isinstance(name, ast.Constant) and str(name.value).startswith('mmbackbones'):
                yield found(name.value, node)
            elif isinstance(name, ast.JoinedStr):  # f'{__name__}.{sub}': our own subpackage
                head = name.values[0]
                if isinstance(head, ast.FormattedValue) and ast.unparse(head.value) == '__name__':
                    continue
                if isinstance(head, ast.Constant) and str(head.value).startswith('mmbackbones'):
                    pytest.fail(f'{osp.relpath(path, ROOT)}:{node.lineno}: importlib with a '
                                'computed name of ours; the layer test cannot follow it')


def layer_of(module: str) -> int:
    best, index = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + '.')) and len(prefix) > best:
                best, index = len(prefix), i
    assert index is not None, f'{module} is in no layer of docs/architecture.md'
    return index


ALL = [imp for path in our_files() for imp in imports_of(path)]


def test_the_picture_covers_every_module():
    for path in our_files():
        layer_of(module_name(path))


def test_imports_run_down_the_layers():
    up = [f'{i.path}:{i.line}: {i.source} ({LAYERS[layer_of(i.source)][0]}) imports '
          f'{i.target} ({LAYERS[layer_of(i.target)][0]})'
          for i in ALL if layer_of(i.target) > layer_of(i.source)]
    assert not up, 'imports against the layers:\n' + '\n'.join(up)


def test_siblings_stay_apart():
    crossing = [f'{i.path}:{i.line}: {i.source} imports {i.target}' for i in ALL
                for a, b in SIBLINGS_APART for x, y in ((a, b), (b, a))
                if (i.source + '.').startswith(x + '.') and (i.target + '.').startswith(y + '.')]
    assert not crossing, '\n'.join(crossing)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle_between_files():
    edges: dict[str, set[str]] = {}
    for i in ALL:
        if i.target != i.source:
            edges.setdefault(i.source, set()).add(i.target)
    cycle = find_cycle(edges)
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_find_cycle_sees_one():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': {'c'}}) is None


def test_imports_inside_functions_defer_an_optional_dependency():
    bad = [f'{i.path}:{i.line}: {i.source} imports {i.target} inside a function'
           for i in ALL if i.in_function and i.source.startswith('mmbackbones')
           and not any(dep in i.comment for dep in OPTIONAL)]
    assert not bad, ('an import of our own module inside a function must defer an optional '
                     'dependency and name it in a comment:\n' + '\n'.join(bad))


def test_the_registries_do_not_locate_the_demo_tasks():
    """Imports of the demo tasks from below are caught above; a registry's ``locations`` would
    make mmengine import them for the library, so none names them."""
    from mmbackbones.registry import DATASETS, HOOKS, MODELS
    for registry in (DATASETS, HOOKS, MODELS):
        assert not any('demos' in loc for loc in registry._locations), registry


def test_the_picture_is_in_the_docs():
    text = (ROOT / 'docs' / 'architecture.md').read_text()
    for name, prefixes in LAYERS:
        assert name in text, f'docs/architecture.md does not name the layer {name!r}'
        for prefix in prefixes:
            shown = prefix.replace('mmbackbones.', '').replace('.', '/')
            assert shown in text or prefix in text, (name, prefix)
