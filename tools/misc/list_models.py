#!/usr/bin/env python
"""List what mmbackbones registers: backbone/neck types and named variants, with a filter.

Named variants show the reference parameters and FLOPs (multiply-accumulates, with the classifier,
at the metafile's input shape) of ``configs/<family>/metafile.yml``; ``--params`` also builds each
variant and prints the backbone's own count.

    python tools/misc/list_models.py               # everything
    python tools/misc/list_models.py 'resnet50*'   # shell-style pattern (case-insensitive)
    python tools/misc/list_models.py res2net --params
    python tools/misc/list_models.py resnet50 --pretrained   # published weights (metafiles)
"""
from __future__ import annotations

import argparse
import fnmatch
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def list_models(pattern: str = '*', registry: str = 'model',
                pretrained: bool = False) -> list[tuple[str, str, str]]:
    """``(name, kind, defined in)`` of every registered entry whose name matches ``pattern``;
    with ``pretrained``, ``(weights name, 'weights', URL)`` of the published checkpoints
    (``resnet50.tv_in1k``, timm's ``list_models(pretrained=True)``).

    A pattern without wildcards matches as a substring.
    """
    if pretrained:
        from mmbackbones.hub import list_pretrained, weights_entry
        glob = pattern if any(c in pattern for c in '*?[') else f'*{pattern}*'
        return [(n, 'weights', weights_entry(n).url) for n in list_pretrained(glob.lower())]
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
    parser.add_argument('--pretrained', action='store_true',
                        help='list the published weights of the variants (their metafiles)')
    args = parser.parse_args(argv)
    rows = list_models(args.pattern, args.registry, pretrained=args.pretrained)
    if not rows:
        print(f'nothing registered matches {args.pattern!r}', file=sys.stderr)
        return 1
    if args.pretrained:
        return _print_weights(rows)
    from mmbackbones import build_model
    from mmbackbones.checkpoint.catalogue import zoo_entry
    width = max(len(r[0]) for r in rows)
    print(f'{"name":<{width}}  {"kind":<7}  {"params (ref)":>12}  {"FLOPs (ref)":>11}'
          f'{"  backbone params" if args.params else ""}  defined in')
    for name, kind, module in rows:
        entry = zoo_entry(name) if kind == 'variant' else None
        params = f'{entry.params:,}' if entry and entry.params else '-'
        flops = f'{entry.flops / 1e9:.3f}G' if entry and entry.flops else '-'
        built = ''
        if args.params:
            built = '-'
            if kind == 'variant':
                built = f'{sum(p.numel() for p in build_model(name).parameters()):,}'
            built = f'  {built:>15}'
        print(f'{name:<{width}}  {kind:<7}  {params:>12}  {flops:>11}{built}  {module}')
    return 0


def _print_weights(rows: list[tuple[str, str, str]]) -> int:
    from mmbackbones.hub import weights_entry
    width = max(len(r[0]) for r in rows)
    print(f'{"weights":<{width}}  {"top-1":>6}  {"input":>7}  {"layout":<11}  {"license":<12}  '
          'url')
    for name, _, url in rows:
        entry = weights_entry(name)
        top1 = entry.metrics.get('Top 1 Accuracy')
        default = ' (default)' if entry.default else ''
        print(f'{name:<{width}}  {top1 if top1 is not None else "-":>6}  '
              f'{"x".join(map(str, entry.input_size)):>7}  {entry.layout:<11}  '
              f'{entry.license:<12}  {url}{default}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
