#!/usr/bin/env python
"""Write a 2D ResNet checkpoint (ours, or any layout our loader reads) as a torchvision one.

    python tools/misc/torchvision_layout.py \
        work_dirs/resnet18_8xb16_digits/best_accuracy_top1_epoch_5.pth \
        work_dirs/resnet18_8xb16_digits/resnet18_torchvision.pth

The output is what ``torchvision.models.resnet18().state_dict()`` holds without ``fc``: a plain
dict of tensors under torchvision's names (``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight``,
``layer1.0.downsample.0.weight``, ...), which libraries that read torchvision's names take:
mmaction2's ``ResNet3d`` inflates it with ``pretrained=OUT, pretrained2d=True``. The checkpoint
is read by our loader into our ``ResNet`` of ``--depth`` (its layout and prefix found, its
report printed; every backbone tensor must match), whose names are torchvision's; the file is
written atomically.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

#: The depths of torchvision's ResNets.
DEPTHS = (18, 34, 50, 101, 152)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='the 2D checkpoint (path or URL)')
    parser.add_argument('out', help='the torchvision-layout file to write')
    parser.add_argument('--depth', type=int, default=18, choices=DEPTHS,
                        help='depth of the ResNet in the checkpoint (default: 18)')
    return parser.parse_args(argv)


def torchvision_state_dict(checkpoint: str, depth: int = 18) -> dict:
    """The backbone of ``checkpoint`` under torchvision's ResNet names (no ``fc``).

    Raises:
        CheckpointMismatchError: A tensor of the ResNet of ``depth`` is missing or of another
            shape in the checkpoint.
    """
    from mmbackbones.checkpoint import load_pretrained
    from mmbackbones.models import ResNet
    model = ResNet(depth=depth)
    load_pretrained(model, checkpoint, min_match=1.0)
    return model.state_dict()


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmbackbones.checkpoint import CheckpointFileError, CheckpointMismatchError
    from mmbackbones.utils.fileio import save_atomic
    try:
        state_dict = torchvision_state_dict(args.checkpoint, args.depth)
    except (CheckpointFileError, CheckpointMismatchError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    save_atomic(state_dict, args.out)
    print(f'{args.out}: {len(state_dict)} tensors in the layout of torchvision.models.'
          f'resnet{args.depth}() without fc')
    return 0


if __name__ == '__main__':
    sys.exit(main())
