#!/usr/bin/env python
"""Our ResNet3d against mmaction2's own ResNet3d in the same mmaction2 recognizer config.

    python tools/analysis_tools/compare_mmaction_resnet3d.py \
        configs/mmaction/digits/r3d-18_8xb16-8x32x32_digit-clips.py
    # top-1 per epoch of two finished runs of the config, side by side:
    python tools/analysis_tools/compare_mmaction_resnet3d.py CONFIG \
        --work-dirs work_dirs/ours work_dirs/theirs

mmaction2's run is the same config with ``model.backbone.type='ResNet3d'`` (mmaction2's class in
its default scope: the backbone dict builds unchanged) and everything else equal: train it with
``python tools/train.py CONFIG --work-dir work_dirs/theirs --cfg-options
model.backbone.type=ResNet3d``. The tool prints the median forward+backward seconds of both
recognizers on one training batch, measured interleaved (ours, theirs, ours, ...), their ratio and
the machine; with ``--work-dirs`` also top-1 per epoch of both runs. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import os.path as osp
import statistics
import sys
import time

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an mmaction2 config whose backbone is our ResNet3d')
    parser.add_argument('--steps', type=int, default=10,
                        help='interleaved forward+backward steps per recognizer')
    parser.add_argument('--work-dirs', nargs=2, metavar=('OURS', 'THEIRS'),
                        help='finished runs of the config with our and with mmaction2 ResNet3d')
    return parser.parse_args(argv)


def mmaction_variant(cfg):
    """The same config with mmaction2's ResNet3d."""
    theirs = copy.deepcopy(cfg)
    if theirs.model.backbone.type != 'mmbackbones.ResNet3d':
        raise ValueError(f'{cfg.filename}: model.backbone.type={cfg.model.backbone.type!r} is '
                         "not 'mmbackbones.ResNet3d'; nothing to compare.")
    theirs.model.backbone.type = 'ResNet3d'
    theirs.model.backbone.init_cfg = None  # an Inflate init is ours
    return theirs


def interleaved_steps(cfgs: dict, steps: int) -> dict:
    """Median forward+backward seconds of each recognizer on the same batch, A, B, A, B, ..."""
    import torch
    from mmengine.runner import Runner

    from mmbackbones.config import build_model_from_cfg
    first = next(iter(cfgs.values()))
    build_model_from_cfg(first)  # sets the default scope for the dataloader's transforms
    batch = next(iter(Runner.build_dataloader(copy.deepcopy(first.train_dataloader), seed=0)))
    models, data = {}, {}
    for name, cfg in cfgs.items():
        torch.manual_seed(0)
        models[name] = build_model_from_cfg(cfg).train()
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


def top1_per_epoch(work_dir: str) -> list[float]:
    """``acc/top1`` of every validation of the newest run in ``work_dir``."""
    found = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not found:
        raise FileNotFoundError(f'{work_dir}: no <timestamp>/vis_data/scalars.json (not an '
                                'mmengine run directory?)')
    with open(found[-1]) as f:
        rows = [json.loads(line) for line in f]
    return [r['acc/top1'] for r in rows if 'acc/top1' in r]


def main(argv=None) -> int:
    args = parse_args(argv)
    from compare_mmdet_backbone import machine

    from mmbackbones.config import ConfigError, load_config
    try:
        ours = load_config(args.config)
        theirs = mmaction_variant(ours)
    except (ConfigError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'machine: {machine()}')
    if args.work_dirs:
        runs = [top1_per_epoch(d) for d in args.work_dirs]
        print('| epoch | top-1, our ResNet3d | top-1, mmaction2 ResNet3d |\n|---|---|---|')
        for epoch in range(max(len(r) for r in runs)):
            cells = [f'{r[epoch]:.3f}' if epoch < len(r) else '-' for r in runs]
            print(f'| {epoch + 1} | {cells[0]} | {cells[1]} |')
    times = interleaved_steps({'mmbackbones': ours, 'mmaction2': theirs}, args.steps)
    print(f"forward+backward per batch of {ours.train_dataloader.batch_size} clips "
          f"(median of {args.steps}, interleaved): ours {times['mmbackbones']:.3f} s, "
          f"mmaction2 {times['mmaction2']:.3f} s, ratio ours/mmaction2 "
          f"{times['mmbackbones'] / times['mmaction2']:.2f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
