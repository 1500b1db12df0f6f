#!/usr/bin/env python
"""What do the classes of a digit-clip set need? Controls on the val clips of a digit-clip config.

    python tools/analysis_tools/clip_time_controls.py \
        configs/mmaction/digits/r3d-18_8xb16-8x32x32_digit-clips.py \
        work_dirs/r3d-18_8xb16-8x32x32_digit-clips/best_acc_top1_epoch_8.pth
    python tools/analysis_tools/clip_time_controls.py \
        configs/mmaction/digits/r3d-18_inflate-center_8xb16-8x32x32_digit-moves.py \
        work_dirs/r3d-18_inflate-center_8xb16-8x32x32_digit-moves/best_acc_top1_epoch_8.pth \
        --init-2d work_dirs/resnet18_8xb16_digits/best_accuracy_top1_epoch_5.pth

Either clip set: the direction clips (``DigitClipDataset``, 8 directions) or which digit moves
which way (``DigitMovesDataset``, 10 digits x 4 directions), read from the config's val dataset.

1. The trained 3D recognizer on the val clips as they are, and on the same clips with their
   frames permuted (one fixed random permutation per clip, never the identity): what the model
   learned from the order of the frames is gone in the second.
2. A 2D network trained on single frames of the train clips with their clip's label, then scored
   on every frame of the val clips: what one frame tells about the class. By default our
   ResNet-18 at quarter width from scratch; with ``--init-2d CKPT`` our ResNet-18 started from
   that 2D checkpoint (the 2D digits job's: it reads digits from the first step). The generator
   declares which classes look the same in one frame (``FRAME_GROUPS``: the direction clips all
   do, the digit-moves clips those of one digit): the best a single frame allows is
   ``group accuracy x groups / classes`` (the group is read right, the class inside it guessed),
   printed next to the 2D model's group accuracy.

Everything prints next to chance (1 / number of classes) and the machine. A measurement, not a
test.
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
    parser.add_argument('--init-2d', metavar='CKPT',
                        help='start the single-frame 2D network from this 2D ResNet-18 '
                             'checkpoint (full width) instead of a quarter-width one from '
                             'scratch')
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


def single_frame_model(num_classes: int, init_2d: str | None):
    """A 2D ResNet-18 + linear classifier on ``N x H x W`` uint8 frames: at quarter width on
    one grey channel from scratch, or at full width on three from the checkpoint ``init_2d``
    (read by our loader: the 2D digits job's, mmpretrain's, torchvision's, ...), fed the grey
    levels as that job normalizes them."""
    import torch
    import torch.nn as nn

    from mmbackbones.checkpoint import load_pretrained
    from mmbackbones.models import ResNet
    if init_2d is None:
        channels, mean, std = 1, 0.3, 0.3
        backbone = ResNet(depth=18, base_channels=16, in_channels=channels)
    else:
        channels, backbone = 3, ResNet(depth=18)
        load_pretrained(backbone, init_2d, min_match=1.0, logger='silent')
        # configs/_base_/datasets/digits_bs16.py, on the 0-1 scale
        mean, std = 77.85 / 255, 95.85 / 255

    class SingleFrame(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            self.fc = nn.Linear(backbone.out_channels[-1], num_classes)

        def forward(self, frames: torch.Tensor) -> torch.Tensor:
            x = (frames.float()[:, None] / 255 - mean) / std  # N x 1 x H x W
            feats = self.backbone(x.expand(-1, channels, -1, -1))[-1]
            return self.fc(feats.mean((2, 3)))

    return SingleFrame()


def single_frame_predictions(train: tuple, val_clips: np.ndarray, num_classes: int, steps: int,
                             seed: int, init_2d: str | None = None) -> np.ndarray:
    """Train a 2D network (:func:`single_frame_model`) on single frames of the train clips with
    their clip's label (``steps`` steps of 64 frames); its predictions on every val frame,
    ``N x T``."""
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = single_frame_model(num_classes, init_2d)
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    clips, labels = train
    for _ in range(steps):
        idx = rng.integers(0, len(clips), size=64)
        t = rng.integers(0, clips.shape[1], size=64)
        loss = nn.functional.cross_entropy(model(torch.from_numpy(clips[idx, t])),
                                           torch.from_numpy(labels[idx]))
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()
    with torch.no_grad():
        return np.stack([model(torch.from_numpy(np.ascontiguousarray(val_clips[:, t])))
                         .argmax(1).numpy() for t in range(val_clips.shape[1])], axis=1)


def single_frame_bound(group_accuracy: float, groups: tuple[int, ...]) -> float:
    """The best top-1 one frame allows, where one frame tells only the group of a class
    (``groups[label]``; the classes of a group, equally many, look the same in every frame):
    the group read right with ``group_accuracy``, the class in it guessed.

    Example:
        >>> single_frame_bound(1.0, (0, 0, 0, 0, 1, 1, 1, 1))  # 2 groups of 4 classes
        0.25
    """
    return group_accuracy * len(set(groups)) / len(groups)


def main(argv=None) -> int:
    args = parse_args(argv)
    from compare_mmdet_backbone import machine
    from mmengine.runner import load_checkpoint

    from mmbackbones.config import ConfigError, build_model_from_cfg, load_config
    from mmbackbones.engine import training_checkpoint_globals
    from mmbackbones.registry import DATASETS
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    model = build_model_from_cfg(cfg).eval()  # imports the config's custom_imports
    dataset = cfg.val_dataloader.dataset
    clip_set = DATASETS.get(dataset.type)
    if not hasattr(clip_set, 'frame_groups'):
        print(f'error: {args.config}: val_dataloader.dataset.type={dataset.type!r} is not a '
              'digit-clip set (DigitClipDataset, DigitMovesDataset)', file=sys.stderr)
        return 2
    root = clip_set.prepare(dataset.data_root, **(dataset.get('generator') or {}))
    with training_checkpoint_globals():
        load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')

    splits = {}
    for split in ('train', 'val'):
        clips, annotations = clip_set.load_split(root, split)
        splits[split] = (np.asarray(clips), np.array([a['label'] for a in annotations]))
    val_clips, val_labels = splits['val']
    classes, groups = clip_set.METAINFO['classes'], np.array(clip_set.frame_groups)
    chance = 1 / len(classes)
    print(f'{dataset.type}: {len(val_clips)} val clips of {val_clips.shape[1]} frames, '
          f'{len(classes)} classes (chance {chance:.3f}), {len(set(groups))} told apart by one '
          f'frame; {machine()}')
    ordered = clip_top1(model, val_clips, val_labels)
    shuffled = clip_top1(model, shuffle_frames(val_clips, args.seed), val_labels)
    pred = single_frame_predictions(splits['train'], val_clips, len(classes), args.steps_2d,
                                    args.seed, args.init_2d)
    single = float((pred == val_labels[:, None]).mean())
    group_accuracy = float((groups[pred] == groups[val_labels][:, None]).mean())
    two_d = (f'2D ResNet-18 from {args.init_2d}' if args.init_2d else
             '2D ResNet-18 (quarter width) from scratch')
    print('| control | top-1 |\n|---|---|')
    print(f'| 3D recognizer, clips in order | {ordered:.3f} |')
    print(f'| 3D recognizer, the same clips, frames shuffled | {shuffled:.3f} |')
    print(f'| {two_d}, on single frames ({args.steps_2d} steps of 64) | {single:.3f} |')
    if len(set(groups)) > 1:
        print(f'| what one frame shows (the group of the class), read by that 2D model | '
              f'{group_accuracy:.3f} |')
        print(f'| bound of one frame with that group accuracy | '
              f'{single_frame_bound(group_accuracy, tuple(groups)):.3f} |')
    print(f'| bound of one frame, the group always read right | '
          f'{single_frame_bound(1.0, tuple(groups)):.3f} |')
    print(f'| chance | {chance:.3f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
