#!/usr/bin/env python
"""Save the feature maps a backbone returns (its ``out_indices``) for one image as a PNG grid.

One row per output: the channel mean, then the ``--channels`` most active channels.

    python tools/visualization/feature_maps.py resnet50 demo.jpg --out maps.png
    python tools/visualization/feature_maps.py configs/resnet/resnet18_8xb16_digits.py \
        digit.png --checkpoint work_dirs/resnet18_8xb16_digits/epoch_5.pth --shape 32
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def load_image(path: str, size: tuple[int, int], mean, std):
    """The image at ``size`` (H, W), normalised, as a 1 x 3 x H x W tensor."""
    import numpy as np
    import torch
    from PIL import Image
    image = Image.open(path).convert('RGB').resize((size[1], size[0]), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)
    x = (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    return image, x[None]


def save_grid(image, features, path: str, channels: int = 7) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = channels + 2
    fig, axes = plt.subplots(len(features), cols, figsize=(1.6 * cols, 1.7 * len(features)),
                             squeeze=False)
    for row, feat in enumerate(features):
        feat = feat[0].float()
        top = feat.mean(dim=(1, 2)).argsort(descending=True)[:channels].tolist()
        panels = [('input', image), (f'{tuple(feat.shape)}\nmean', feat.mean(0))]
        panels += [(f'ch {c}', feat[c]) for c in top]
        for col, ax in enumerate(axes[row]):
            ax.axis('off')
            if col < len(panels):
                title, data = panels[col]
                ax.imshow(data if col == 0 else data.numpy(), cmap=None if col == 0 else 'viridis')
                ax.set_title(title if col or row == 0 else '', fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    from mmbackbones.utils.fileio import atomic_write_path
    with atomic_write_path(path, keep_ext=True) as tmp:  # never a half-written PNG
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    from mmbackbones.cli import add_model_arguments
    parser = argparse.ArgumentParser(description='Save backbone feature maps as a PNG grid.')
    add_model_arguments(parser, shape_help='Default: 224.')
    parser.add_argument('image', help='input image')
    parser.add_argument('--out', default='feature_maps.png', help='output PNG')
    parser.add_argument('--channels', type=int, default=7, help='channels shown per output')
    args = parser.parse_args(argv)
    import torch

    from mmbackbones.cli import (
        build_for_tool,
        input_shape,
        load_tool_checkpoint,
        parse_model_args,
    )
    from mmbackbones.config import ConfigError
    if not osp.isfile(args.image):
        print(f'error: image {args.image!r} does not exist.', file=sys.stderr)
        return 2
    try:
        _, model, backbone = build_for_tool(args.model, parse_model_args(args.model_args),
                                            args.cfg_options)
        shape = input_shape(backbone, args.shape)
        if args.checkpoint:
            load_tool_checkpoint(backbone, args.checkpoint)
    except (ConfigError, KeyError, TypeError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    preprocessor = getattr(model, 'data_preprocessor', None)
    mean = getattr(preprocessor, 'mean', None)
    mean, std = ((preprocessor.mean.flatten().tolist(), preprocessor.std.flatten().tolist())
                 if mean is not None else ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]))
    image, x = load_image(args.image, shape[-2:], mean, std)
    backbone.eval()
    with torch.no_grad():
        features = backbone(x)
    save_grid(image, features, args.out, args.channels)
    print(f'{len(features)} outputs (out_indices={tuple(backbone.out_indices)}, shapes '
          f'{[tuple(f.shape) for f in features]}) saved to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
