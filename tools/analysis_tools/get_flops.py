#!/usr/bin/env python
"""Parameters and FLOPs (MACs) of a config's model or of a registered backbone, per stage.

    python tools/analysis_tools/get_flops.py configs/resnet/resnet50_8xb32_in1k.py
    python tools/analysis_tools/get_flops.py resnet50 --shape 224 --convention mmengine
    python tools/analysis_tools/get_flops.py ResNet --cfg-options depth=101 out_indices=3

Conventions (both count a multiply-add as one FLOP): 'torchvision' = conv + linear MACs of the
whole model, head fc included (torchvision's and the papers' numbers); 'mmengine' = mmengine's
FlopAnalyzer on extract_feat (mmpretrain's get_flops.py; BN and pooling counted, head not).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None) -> argparse.Namespace:
    from mmbackbones.analysis import CONVENTIONS
    parser = argparse.ArgumentParser(description='Parameters and FLOPs per stage.')
    parser.add_argument('model', help='a config file, or a registered backbone type/variant')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='input height [width] (default 224)')
    parser.add_argument('--convention', choices=CONVENTIONS, default='torchvision')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides; for a backbone name, its constructor arguments')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmbackbones.analysis import measure_complexity
    from mmbackbones.build import build_for_tool
    from mmbackbones.engine.config import ConfigError
    if len(args.shape) not in (1, 2):
        print('error: --shape takes H or H W', file=sys.stderr)
        return 2
    try:
        model, backbone = build_for_tool(args.model, args.cfg_options)
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    h, w = (args.shape * 2)[:2]
    shape = list(getattr(backbone, 'example_input_shape', (1, 3, h, w)))
    shape[0], shape[-2], shape[-1] = 1, h, w
    result = measure_complexity(model, tuple(shape), args.convention)
    print(f'{args.model}')
    print(result.format())
    print(reference_line(args.model))
    return 0


def reference_line(spec: str) -> str:
    """The metafile's numbers for ``spec`` (a variant or a config's base name), to compare."""
    from mmbackbones.analysis.metafile import zoo_entry
    entry = zoo_entry(osp.splitext(osp.basename(spec))[0])
    if entry is None or entry.params is None:
        return 'reference: none in the metafiles (model-index.yml)'
    flops = f', {entry.flops / 1e9:.3f}G MACs' if entry.flops else ''
    return (f'reference ({entry.collection} metafile, {entry.metadata.get("Classes", "?")} classes'
            f' at {entry.input_shape}): {entry.params:,} params{flops}; weights: {entry.weights}')


if __name__ == '__main__':
    sys.exit(main())
