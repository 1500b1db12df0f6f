#!/usr/bin/env python
"""Train and evaluate one mmdet config twice: with our backbone + FPN and with mmdetection's own.

    python tools/analysis_tools/compare_mmdet_backbone.py \
        configs/mmdet/digits/retinanet_r18_fpn_digits.py
    python tools/analysis_tools/compare_mmdet_backbone.py CONFIG --bench-only --bench-steps 20

The second run swaps ``type='mmbackbones.X'`` of the backbone and neck for ``'mmdet.X'`` (mmdet's
``ResNet``, ``Res2Net``, ``FPN``; the FPN gets the explicit ``in_channels`` mmdet needs) and keeps
everything else: data, schedule, seed. It prints the COCO mAPs of both runs, their median
training-step times, and the forward+backward time of both detectors on one batch measured
interleaved (A, B, A, B, ...), which is what to compare on a machine shared with other work.
A measurement, not a test: differences in mAP of a point or two are the noise of a short run.
"""
from __future__ import annotations

import argparse
import copy
import os
import os.path as osp
import platform
import statistics
import sys
import time

from mmengine.config import DictAction

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an mmdet config whose backbone/neck are ours')
    parser.add_argument('--work-dir', default='work_dirs/compare_mmdet_backbone',
                        help='runs go to <work-dir>/{mmbackbones,mmdet}')
    parser.add_argument('--bench-only', action='store_true',
                        help='skip training: only the interleaved step timing')
    parser.add_argument('--bench-steps', type=int, default=10,
                        help='interleaved forward+backward steps per detector')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries of both runs: key=value')
    return parser.parse_args(argv)


def mmdet_variant(cfg):
    """The same config with mmdetection's backbone and neck classes instead of ours."""
    from mmdet.registry import MODELS
    theirs = copy.deepcopy(cfg)
    ours = MODELS.build(copy.deepcopy(cfg.model.backbone))
    for part in ('backbone', 'neck'):
        module = theirs.model[part]
        scope, _, name = module.type.rpartition('.')
        if scope != 'mmbackbones':
            raise ValueError(f'{cfg.filename}: model.{part}.type={module.type!r} is not one of '
                             "ours ('mmbackbones.<Type>'); nothing to compare.")
        module.type = f'mmdet.{name}'
    # mmdet's FPN cannot read its input channels from the backbone
    theirs.model.neck.in_channels = list(ours.out_channels)
    return theirs


def _last_metrics_hook():
    from mmengine.hooks import Hook

    class LastMetrics(Hook):
        """Keeps the metrics of the last validation."""

        def __init__(self) -> None:
            self.metrics: dict = {}

        def after_val_epoch(self, runner, metrics=None) -> None:
            self.metrics = dict(metrics or {})

    return LastMetrics()


def train(cfg, work_dir: str) -> dict:
    from mmengine.runner import Runner

    from mmbackbones.engine import training_checkpoint_globals
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    runner = Runner.from_cfg(cfg)
    last = _last_metrics_hook()
    runner.register_hook(last, priority='LOWEST')
    with training_checkpoint_globals():
        runner.train()
    times = runner.message_hub.get_scalar('train/time').data[0]
    return dict(last.metrics, step_s=float(statistics.median(times)), steps=len(times))


def interleaved_steps(cfgs: dict, steps: int) -> dict:
    """Median forward+backward seconds of each detector on the same batch, measured A, B, A, B."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope('mmdet')
    first = next(iter(cfgs.values()))
    loader = Runner.build_dataloader(copy.deepcopy(first.train_dataloader), seed=0)
    batch = next(iter(loader))
    models, data = {}, {}
    for name, cfg in cfgs.items():
        torch.manual_seed(0)
        models[name] = MODELS.build(copy.deepcopy(cfg.model))
        models[name].init_weights()
        models[name].train()
        data[name] = models[name].data_preprocessor(copy.deepcopy(batch), True)
    times: dict = {name: [] for name in cfgs}
    for step in range(steps + 1):
        for name, model in models.items():
            start = time.perf_counter()
            losses = model.loss(data[name]['inputs'], data[name]['data_samples'])
            loss, _ = model.parse_losses(losses)
            loss.backward()
            model.zero_grad(set_to_none=True)
            if step:  # the first step warms up
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine() -> str:
    import torch
    cpu = platform.processor() or 'cpu'
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    load = ' '.join(f'{v:.1f}' for v in os.getloadavg())
    return (f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with '
            f'{torch.get_num_threads()} threads, {gpu}; load average {load}')


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmbackbones.config import ConfigError, load_config
    try:
        cfg = load_config(args.config, args.cfg_options)
        if cfg.get('default_scope') != 'mmdet':
            raise ConfigError(f'{args.config} is not an mmdet config (default_scope='
                              f"{cfg.get('default_scope')!r}).")
        cfgs = dict(mmbackbones=cfg, mmdet=mmdet_variant(cfg))
    except (ConfigError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'machine: {machine()}')
    results = {name: {} for name in cfgs}
    if not args.bench_only:
        for name, run_cfg in cfgs.items():
            results[name] = train(run_cfg, osp.join(args.work_dir, name))
    for name, seconds in interleaved_steps(cfgs, args.bench_steps).items():
        results[name]['bench_s'] = seconds
    batch = cfg.train_dataloader.batch_size
    header = (f'{"backbone + neck":<16}' + ''.join(f'{m.split("/")[1]:>13}' for m in METRICS) +
              f'{"train s/step":>14}{"fwd+bwd s":>11}')
    print(f'{args.config}: {batch} images per step; fwd+bwd interleaved over '
          f'{args.bench_steps} steps')
    print(header)
    for name, res in results.items():
        row = ''.join(f'{res[m]:>13.3f}' if m in res else f'{"-":>13}' for m in METRICS)
        step = f'{res["step_s"]:>14.3f}' if 'step_s' in res else f'{"-":>14}'
        print(f'{name:<16}{row}{step}{res["bench_s"]:>11.3f}')
    ours, theirs = results['mmbackbones'], results['mmdet']
    ratio = ours['bench_s'] / theirs['bench_s']
    print(f'fwd+bwd time ours / mmdet: {ratio:.2f}' + (
        f'; train step ours / mmdet: {ours["step_s"] / theirs["step_s"]:.2f}'
        if 'step_s' in ours else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
