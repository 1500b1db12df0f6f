#!/usr/bin/env python
"""Export a backbone (ONNX, TorchScript, torch.export, OpenVINO IR), verified against eager.

    python tools/deployment/export.py resnet50 --format onnx --dynamic --out resnet50.onnx
    python tools/deployment/export.py configs/resnet/resnet50_8xb32_in1k.py --format onnx \\
        --checkpoint work_dirs/resnet50/epoch_100.pth
    python tools/deployment/export.py resnet18 --format exported_program --shape 1 3 224 224
    python tools/deployment/export.py resnet50 --format openvino --out resnet50.xml
    python tools/deployment/export.py resnet50 --format openvino --int8 --calibration data/calib
    python tools/deployment/export.py resnet50 --format onnx --int8 --calibration 8

MODEL_OR_CONFIG is a registered name (``resnet50``, or a class with its ``--model-args``:
``ResNet --model-args depth=50``) or a config file (its ``model.backbone``, else ``model``;
``--cfg-options`` override it); the model arguments are those of every tool
(:mod:`mmbackbones.build`). The model is put in deploy mode (BatchNorm folded) unless
``--no-fuse``; the exported file's outputs are compared with eager PyTorch in the same run
(onnxruntime for ONNX) and the max abs difference is printed; the exit code is 1 on a mismatch
or an unsupported model (e.g. deformable convs), with the reason. The file is written atomically.

``--format openvino`` writes an OpenVINO IR (``.xml`` + ``.bin``, read from the dynamo ONNX export;
needs ``tools/install.sh --with-openvino``). ``--int8 --calibration N_OR_DIR`` writes an int8 file
(``onnx``: onnxruntime static QDQ, per-channel; ``openvino``: NNCF), checked against the float
model by the cosine similarity of each output (>= 0.99). ``N_OR_DIR`` is a number of seeded
random batches (checks the path; real images give better ranges) or a folder of images, resized to
the export shape and ImageNet-normalized (see ``mmbackbones/deploy/calibration.py``).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

SUFFIX = {'onnx': '.onnx', 'torchscript': '.ts.pt', 'exported_program': '.pt2',
          'openvino': '.xml'}


def parse_args(argv=None) -> argparse.Namespace:
    from mmbackbones.cli import add_model_arguments
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_arguments(parser, shape_help="Default: batch 1 and the model's example input at "
                        '224 x 224.')
    parser.add_argument('--format', required=True, choices=list(SUFFIX), help='export format')
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic batch and spatial size (verified on a second shape)')
    parser.add_argument('--no-fuse', action='store_true', help='export without BN folding')
    parser.add_argument('--out', help='output file (default: <name><suffix>)')
    parser.add_argument('--int8', action='store_true',
                        help='write an int8 file (onnx: onnxruntime QDQ; openvino: NNCF)')
    parser.add_argument('--calibration', metavar='N_OR_DIR',
                        help='with --int8: N seeded random batches, or a folder of images')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmbackbones.cli import build_for_export, input_shape, parse_model_args
    from mmbackbones.config import ConfigError
    from mmbackbones.deploy import ExportError, export

    try:
        name, model = build_for_export(args.model, args.checkpoint,
                                       parse_model_args(args.model_args), args.cfg_options,
                                       fuse=not args.no_fuse)
        shape = input_shape(model, args.shape)
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    out = args.out or f'{name}{"_int8" if args.int8 else ""}{SUFFIX[args.format]}'
    if args.calibration is not None and not args.int8:
        print('error: --calibration is for --int8.', file=sys.stderr)
        return 2
    if args.int8 and args.calibration is None:
        print('error: --int8 needs --calibration N_OR_DIR (N seeded random batches or a folder '
              'of images).', file=sys.stderr)
        return 2
    try:
        calibration = None
        if args.int8:
            from mmbackbones.deploy.calibration import calibration_from_spec
            calibration = calibration_from_spec(args.calibration, shape)
        result = export(model, out, args.format, shape, dynamic=args.dynamic, int8=args.int8,
                        calibration=calibration)
    except (ExportError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    what = f'{args.format}{" int8" if args.int8 else ""}'
    for checked, diff in zip(result.checked_shapes, result.max_abs_diff):
        print(f'verified {what} against eager at input {checked}: ' +
              (f'cosine similarity {diff:.4f}' if args.int8 else f'max abs diff {diff:.3g}'))
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
