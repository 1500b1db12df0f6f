#!/usr/bin/env python
"""Parameters and FLOPs (MACs) of a config's model or of a registered backbone, per stage.

    python tools/analysis_tools/get_flops.py configs/resnet/resnet50_8xb32_in1k.py
    python tools/analysis_tools/get_flops.py resnet50 --shape 224 --convention mmengine
    python tools/analysis_tools/get_flops.py ResNet --model-args depth=101 out_indices=3

Conventions (both count a multiply-add as one FLOP): 'torchvision' = conv + linear MACs of the
whole model, head fc included (torchvision's and the papers' numbers); 'mmengine' = mmengine's
FlopAnalyzer on extract_feat (mmpretrain's get_flops.py; BN and pooling counted, head not).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None) -> argparse.Namespace:
    from mmbackbones.analysis import CONVENTIONS
    from mmbackbones.cli import add_model_arguments
    parser = argparse.ArgumentParser(description='Parameters and FLOPs per stage.')
    add_model_arguments(parser, checkpoint=False, shape_help='Default: 224.')
    parser.add_argument('--convention', choices=CONVENTIONS, default='torchvision')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmbackbones.analysis import measure_complexity
    from mmbackbones.cli import build_for_tool, input_shape, parse_model_args
    from mmbackbones.config import ConfigError
    try:
        built = build_for_tool(args.model, parse_model_args(args.model_args), args.cfg_options)
        shape = input_shape(built.backbone, args.shape)
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    result = measure_complexity(built.model, shape, args.convention)
    print(f'{args.model}')
    print(result.format())
    print(reference_line(args.model))
    return 0


def reference_line(spec: str) -> str:
    """The metafile's numbers for ``spec`` (a variant or a config's base name), to compare."""
    from mmbackbones.checkpoint.catalogue import zoo_entry
    entry = zoo_entry(osp.splitext(osp.basename(spec))[0])
    if entry is None or entry.params is None:
        return 'reference: none in the metafiles (model-index.yml)'
    flops = f', {entry.flops / 1e9:.3f}G MACs' if entry.flops else ''
    return (f'reference ({entry.collection} metafile, {entry.metadata.get("Classes", "?")} classes'
            f' at {entry.input_shape}): {entry.params:,} params{flops}; weights: {entry.weights}')


if __name__ == '__main__':
    sys.exit(main())
