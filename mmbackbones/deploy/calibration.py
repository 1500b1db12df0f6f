"""Calibration batches for int8 from the command line: ``N`` seeded random batches or a folder.

``tools/deployment/export.py --int8 --calibration N_OR_DIR`` and ``benchmark.py`` take:

* an integer ``N``: ``N`` batches of standard-normal noise of the export shape, from a fixed seed
  (reproducible; enough to check that a path works and to time it, but the activation ranges of
  noise are not those of images: for accuracy, calibrate on real images);
* a folder: its images (``.png``/``.jpg``/``.jpeg``/``.bmp``, sorted by name, searched
  recursively), converted to RGB, resized to the export's ``H x W`` (bilinear) and normalized
  with ImageNet's mean/std (``mean=[123.675, 116.28, 103.53]``, ``std=[58.395, 57.12, 57.375]``
  on 0-255, the mmpretrain/torchvision default), grouped into batches of the export's batch size
  (the last partial batch is dropped unless it is the only one).
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Sequence

import torch

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def calibration_from_spec(spec: str | int, shape: Sequence[int], seed: int = 0,
                          mean: Sequence[float] = IMAGENET_MEAN,
                          std: Sequence[float] = IMAGENET_STD) -> list[torch.Tensor]:
    """The batches ``N_OR_DIR`` names, each of shape ``shape`` (``N x C x H x W``).

    Args:
        spec: A positive integer (as int or string): that many seeded random batches; or an
            image folder.
        shape: The export's input shape.
        seed: Seed of the random batches.
        mean: Per-channel mean (0-255) the images are normalized with.
        std: Per-channel std (0-255).

    Returns:
        A list of float tensors.

    Example:
        >>> [tuple(b.shape) for b in calibration_from_spec('2', (1, 3, 64, 64))]
        [(1, 3, 64, 64), (1, 3, 64, 64)]
    """
    shape = tuple(int(s) for s in shape)
    text = str(spec)
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise ValueError(f'calibration={spec!r}: give a positive number of batches or an '
                             'image folder.')
        gen = torch.Generator().manual_seed(seed)
        return [torch.randn(*shape, generator=gen) for _ in range(n)]
    if not osp.isdir(text):
        raise ValueError(f'calibration={spec!r} is neither a positive number of batches nor an '
                         'existing image folder.')
    if len(shape) != 4 or shape[1] != 3:
        raise ValueError(f'calibration={spec!r}: an image folder calibrates 3-channel 2D inputs; '
                         f'the export shape is {shape}.')
    files = sorted(osp.join(root, f) for root, _, names in os.walk(text) for f in names
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise ValueError(f'calibration={spec!r}: no {"/".join(IMAGE_EXTENSIONS)} images in the '
                         'folder.')
    from PIL import Image
    images = []
    for path in files:
        with Image.open(path) as img:
            img = img.convert('RGB').resize((shape[3], shape[2]), Image.BILINEAR)
            images.append(torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
                          .view(shape[2], shape[3], 3).permute(2, 0, 1).float())
    x = torch.stack(images)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    batches = list(torch.split(x, shape[0]))
    if len(batches) > 1 and batches[-1].shape[0] != shape[0]:
        batches.pop()
    return batches
