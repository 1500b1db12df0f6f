#!/usr/bin/env python
"""Train a model from a config with mmengine's Runner (OpenMMLab command line).

    python tools/train.py configs/resnet/resnet18_8xb16_digits.py
    python tools/train.py configs/mmdet/digits/retinanet_r18_fpn_digits.py   # mmdet tier
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=5 model.backbone.depth=34
    tools/dist_train.sh CONFIG 2            # torchrun; gloo on CPU, nccl on GPU

Our configs run in the ``mmbackbones`` scope; mmdetection configs (``configs/mmdet/``, bases
``mmdet::...``, ``default_scope='mmdet'``) run in mmdet's, with its registries, CocoMetric and
visualizer. Without mmdet (and full mmcv) such a config stops with one line saying what to install.
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
    parser = argparse.ArgumentParser(description='Train a model from a config.')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints and curves go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or (no value) from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: fp16 AmpOptimWrapper on a GPU; bf16 autocast on a '
                        'CPU with native bf16 (refused where it would be emulated)')
    parser.add_argument('--channels-last', action='store_true',
                        help='weights and inputs in channels-last memory layout')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the train step (mmengine compile)')
    parser.add_argument('--efficient-conv-bn-eval', action='store_true',
                        help="mmengine's efficient conv-BN evaluation in the backbone (saves "
                        'memory where BN is in eval mode: frozen stages, norm_eval=True)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale lr by (total batch size) / auto_scale_lr.base_batch_size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries: key=value (dotted keys; every key must '
                        'exist in the config or be an argument of the type it configures)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace):
    """The config of this run: file, ``--cfg-options``, then the other flags."""
    from mmbackbones.config import ConfigError, check_dataset_paths, load_config
    from mmbackbones.engine.launch import setup_launcher

    cfg = load_config(args.config, args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    apply_training_options(cfg, args)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise ConfigError(f'--resume {args.resume}: no such checkpoint file.')
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if not cfg.get('auto_scale_lr'):
            raise ConfigError('--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=N) in '
                              'the config.')
        cfg.auto_scale_lr.enable = True
    used = ['train_dataloader'] + ([] if args.no_validate else ['val_dataloader'])
    check_dataset_paths(cfg, used)
    setup_launcher(cfg, args.launcher)
    return cfg


def apply_training_options(cfg, args: argparse.Namespace) -> None:
    """--amp, --channels-last, --compile, --efficient-conv-bn-eval (mmbackbones.engine)."""
    from mmbackbones.engine import apply_fast_paths
    for note in apply_fast_paths(cfg, amp=args.amp, channels_last=args.channels_last,
                                 compile=args.compile,
                                 efficient_conv_bn_eval=args.efficient_conv_bn_eval):
        print(note)


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
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    # mmengine's checkpoints hold HistoryBuffers and numpy values: allow exactly those while
    # torch.load runs with weights_only=True (resume, load_from).
    with distributed_teardown(), training_checkpoint_globals():
        runner.train()
    return 0


if __name__ == '__main__':
    sys.exit(main())
