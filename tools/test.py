#!/usr/bin/env python
"""Evaluate a checkpoint on a config's test set with mmengine's Runner.

    python tools/test.py configs/resnet/resnet18_8xb16_digits.py \
        work_dirs/resnet18_8xb16_digits/epoch_6.pth
    tools/dist_test.sh CONFIG CHECKPOINT 2
    python tools/test.py configs/mmdet/digits/retinanet_r18_fpn_digits.py \
        work_dirs/retinanet_r18_fpn_digits/best_coco_bbox_mAP_epoch_1.pth
    python tools/test.py configs/resnet/resnet18_8xb16_digits.py CKPT --precision int8
    python tools/test.py configs/resnet/resnet18_8xb16_digits.py CKPT --backend openvino

``--precision int8`` / ``--backend openvino`` evaluate with the backbone deployed (torchao int8;
OpenVINO fp32 or, with int8, NNCF int8), calibrated on the config's training batches; the neck,
head and metric stay as configured (see ``mmbackbones/deploy/evaluate.py``).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint.')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--out', help='also dump the predictions to this pickle file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries: key=value (dotted keys; every key must '
                        'exist in the config or be an argument of the type it configures)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--precision', choices=['fp32', 'int8'], default=None,
                        help='evaluate with the backbone deployed in this precision (int8: '
                        'calibrated on training batches); default: the model as trained')
    parser.add_argument('--backend', choices=['pytorch', 'openvino', 'onnxruntime'],
                        default=None, help='run the deployed backbone with PyTorch (default), '
                        'OpenVINO or onnxruntime')
    parser.add_argument('--calibration-batches', type=int, default=4,
                        help='training batches that calibrate int8 (default 4)')
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


#: Metrics of clip datasets (mmbackbones.demos.tracking): ``--out`` dumps with DumpFrameResults.
CLIP_METRICS = ('FrameCocoMetric', 'MOTMetric')


def build_config(args: argparse.Namespace):
    from mmbackbones.config import ConfigError, check_dataset_paths, load_config
    from mmbackbones.engine.launch import setup_launcher

    cfg = load_config(args.config, args.cfg_options)
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint {args.checkpoint!r} does not exist.')
    if cfg.get('test_dataloader') is None:
        raise ConfigError(f'{args.config} has no test_dataloader to evaluate on.')
    cfg.load_from = args.checkpoint
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.out is not None:
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        # a clip config's metrics see T frames per dataset item: dump every frame
        clips = any(str(e.get('type', '')).split('.')[-1] in CLIP_METRICS for e in evaluators)
        evaluators.append(dict(type='DumpFrameResults' if clips else 'DumpResults',
                               out_file_path=args.out))
        cfg.test_evaluator = evaluators
    check_dataset_paths(cfg, ['test_dataloader'])
    setup_launcher(cfg, args.launcher)
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.runner import Runner

    from mmbackbones.config import ConfigError
    from mmbackbones.engine import training_checkpoint_globals
    from mmbackbones.engine.launch import distributed_teardown

    try:
        cfg = build_config(args)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    runner = Runner.from_cfg(cfg)
    if args.precision is not None or args.backend is not None:
        from mmbackbones.deploy.evaluate import DeployBackboneHook
        runner.register_hook(DeployBackboneHook(args.precision or 'fp32',
                                                args.backend or 'pytorch',
                                                args.calibration_batches))
    with distributed_teardown(), training_checkpoint_globals():
        metrics = runner.test()
    if runner.rank == 0:
        print(' '.join(f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
                       for k, v in metrics.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
