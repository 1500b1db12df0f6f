#!/usr/bin/env python
"""List what mmbackbones registers: backbone/neck types and named variants, with a filter.

    python tools/misc/list_models.py               # everything
    python tools/misc/list_models.py 'resnet50*'   # shell-style pattern (case-insensitive)
    python tools/misc/list_models.py res2net --params
"""
from __future__ import annotations

import argparse
import fnmatch
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def list_models(pattern: str = '*', registry: str = 'model') -> list[tuple[str, str, str]]:
    """``(name, kind, defined in)`` of every registered entry whose name matches ``pattern``.

    A pattern without wildcards matches as a substring.
    """
    import mmbackbones  # noqa: F401  (registers everything)
    from mmbackbones import registry as reg
    registries = {'model': reg.MODELS, 'dataset': reg.DATASETS, 'hook': reg.HOOKS}
    target = registries[registry]
    target.import_from_location()
    if not any(c in pattern for c in '*?['):
        pattern = f'*{pattern}*'
    rows = []
    for name, obj in sorted(target.module_dict.items(), key=lambda kv: kv[0].lower()):
        if fnmatch.fnmatch(name.lower(), pattern.lower()):
            kind = 'type' if isinstance(obj, type) else 'variant'
            rows.append((name, kind, obj.__module__))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='List registered mmbackbones modules.')
    parser.add_argument('pattern', nargs='?', default='*',
                        help="shell-style pattern, or a substring (default: all)")
    parser.add_argument('--registry', choices=['model', 'dataset', 'hook'], default='model')
    parser.add_argument('--params', action='store_true',
                        help='build each named variant and print its parameter count')
    args = parser.parse_args(argv)
    rows = list_models(args.pattern, args.registry)
    if not rows:
        print(f'nothing registered matches {args.pattern!r}', file=sys.stderr)
        return 1
    width = max(len(r[0]) for r in rows)
    for name, kind, module in rows:
        extra = ''
        if args.params and kind == 'variant':
            from mmbackbones.registry import MODELS
            extra = f'  {sum(p.numel() for p in MODELS.build(dict(type=name)).parameters()):,}'
        print(f'{name:<{width}}  {kind:<7}  {module}{extra}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
