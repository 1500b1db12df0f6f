#!/usr/bin/env python
"""Do the digit-clip classes need time? Two controls on the val clips of a digit-clip config.

    python tools/analysis_tools/clip_time_controls.py \
        configs/mmaction/digits/r3d-18_8xb16-8x32x32_digit-clips.py \
        work_dirs/r3d-18_8xb16-8x32x32_digit-clips/best_acc_top1_epoch_4.pth

1. The trained 3D recognizer on the val clips as they are, and on the same clips with their
   frames permuted (one fixed random permutation per clip, never the identity): what the model
   learned from the order of the frames is gone in the second.
2. A 2D network (our ResNet-18 at quarter width + a linear classifier) trained on single frames
   of the train clips with their clip's label, then scored on every frame of the val clips: what
   one frame tells about the class.

Both print next to chance (1 / number of classes) and the machine. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

import numpy as np

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a digit-clip config (configs/mmaction/digits/)')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument('--steps-2d', type=int, default=300,
                        help='training steps of the single-frame 2D network (batch 64)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def clip_top1(model, clips: np.ndarray, labels: np.ndarray, batch: int = 40) -> float:
    """Top-1 of an mmaction2 recognizer on ``N x T x H x W`` uint8 grey clips."""
    import torch
    from mmaction.structures import ActionDataSample
    hits = 0
    with torch.no_grad():
        for i in range(0, len(clips), batch):
            part = torch.from_numpy(np.ascontiguousarray(clips[i:i + batch]))
            # N x T x H x W -> per clip 1 view x 3 x T x H x W (the grey level in 3 channels)
            inputs = [c[None, None].expand(1, 3, -1, -1, -1) for c in part]
            samples = [ActionDataSample() for _ in inputs]
            out = model.test_step(dict(inputs=inputs, data_samples=samples))
            pred = np.array([int(o.pred_score.argmax()) for o in out])
            hits += int((pred == labels[i:i + batch]).sum())
    return hits / len(clips)


def shuffle_frames(clips: np.ndarray, seed: int) -> np.ndarray:
    """Every clip with its frames in a random order other than the original."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(clips)
    for i, clip in enumerate(clips):
        order = np.arange(len(clip))
        while np.array_equal(order, np.arange(len(clip))):
            order = rng.permutation(len(clip))
        out[i] = clip[order]
    return out


def single_frame_top1(train: tuple, val: tuple, num_classes: int, steps: int,
                      seed: int) -> float:
    """Train a 2D ResNet-18 (quarter width) on single frames; top-1 over every val frame."""
    import torch
    import torch.nn as nn

    from mmbackbones.models import ResNet
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    backbone = ResNet(depth=18, base_channels=16, in_channels=1)
    model = nn.Sequential(backbone, nn.Flatten(), nn.Linear(backbone.out_channels[-1],
                                                            num_classes))

    def run(x):  # N x 1 x H x W in 0-1
        feats = backbone((x - 0.3) / 0.3)[-1].mean((2, 3))
        return model[2](feats)

    optim = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    clips, labels = train
    for _ in range(steps):
        idx = rng.integers(0, len(clips), size=64)
        t = rng.integers(0, clips.shape[1], size=64)
        x = torch.from_numpy(clips[idx, t].astype(np.float32) / 255)[:, None]
        loss = nn.functional.cross_entropy(run(x), torch.from_numpy(labels[idx]))
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    clips, labels = val
    hits = total = 0
    with torch.no_grad():
        for t in range(clips.shape[1]):
            x = torch.from_numpy(clips[:, t].astype(np.float32) / 255)[:, None]
            hits += int((run(x).argmax(1).numpy() == labels).sum())
            total += len(labels)
    return hits / total


def main(argv=None) -> int:
    args = parse_args(argv)
    from compare_mmdet_backbone import machine
    from mmengine.runner import load_checkpoint

    from mmbackbones.config import ConfigError, build_model_from_cfg, load_config
    from mmbackbones.demos.datasets.digit_clips import CLASSES, load_split, prepare_digit_clips
    from mmbackbones.engine import training_checkpoint_globals
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    dataset = cfg.val_dataloader.dataset
    root = prepare_digit_clips(dataset.data_root, **(dataset.get('generator') or {}))
    model = build_model_from_cfg(cfg).eval()
    with training_checkpoint_globals():
        load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')

    splits = {}
    for split in ('train', 'val'):
        clips, annotations = load_split(root, split)
        splits[split] = (np.asarray(clips), np.array([a['label'] for a in annotations]))
    val_clips, val_labels = splits['val']
    chance = 1 / len(CLASSES)
    print(f'{len(val_clips)} val clips of {val_clips.shape[1]} frames, {len(CLASSES)} classes '
          f'(chance {chance:.3f}); {machine()}')
    ordered = clip_top1(model, val_clips, val_labels)
    shuffled = clip_top1(model, shuffle_frames(val_clips, args.seed), val_labels)
    single = single_frame_top1(splits['train'], splits['val'], len(CLASSES), args.steps_2d,
                               args.seed)
    print('| control | top-1 |\n|---|---|')
    print(f'| 3D recognizer, clips in order | {ordered:.3f} |')
    print(f'| 3D recognizer, the same clips, frames shuffled | {shuffled:.3f} |')
    print(f'| 2D ResNet-18 on single frames ({args.steps_2d} steps of 64) | {single:.3f} |')
    print(f'| chance | {chance:.3f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
