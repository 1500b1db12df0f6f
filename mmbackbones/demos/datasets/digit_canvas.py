"""Digit canvases: a COCO-format detection set (and per-pixel masks) composed from real digits.

Each 128 x 128 grey image holds 2-6 handwritten digits from scikit-learn's ``load_digits`` (the
1,797 8 x 8 digits of the UCI "optical recognition of handwritten digits" test set, shipped inside
scikit-learn: no download), upscaled with bicubic interpolation to 16-40 px, placed at random
positions without overlapping, on a dim background with a brightness gradient, pixel noise and
clutter that is not a digit (thin pen strokes, dots and fragments cut from digits). It is a
synthetic *layout* of real handwriting: the digits are real, their sizes, positions and the
clutter are drawn by this module.

* Ink and boxes: an upscaled digit keeps only its pixels above ``INK_THRESHOLD`` (of the 0-1 grey
  level); those pixels are its ink and its mask, and its box is the tight box of the ink. Boxes
  of two digits and of a digit and the clutter are at least ``GAP`` pixels apart, so every box
  holds all of its digit's ink and nothing else.
* Splits: the digits carry no writer id, so train and val are split by sample index: val
  canvases use only the last ``val_fraction`` of the samples (indices 1438-1796 by default),
  train canvases only the others. A sample never appears in both splits, but a writer may.
* Files, under ``data_root``: ``images/{train,val}/NNNNN.png`` (8-bit grey),
  ``annotations/{train,val}.json`` (COCO: ``bbox`` as ``[x, y, w, h]`` in pixels, categories
  ``1..10`` named ``'0'..'9'``, and the sklearn ``source_index`` of each digit), optionally
  ``masks/{train,val}/NNNNN.png`` (class per pixel: 0 background and clutter, ``1 + digit`` for
  a digit's ink), and ``digit_canvas.json`` with the settings, written last.
* Written once, atomically: the folder is built in a temporary directory next to ``data_root``
  and renamed into place (masks added later go through a temporary folder too), so an
  interrupted run or the other processes of a distributed run never see a half-written dataset.
* Deterministic: canvas ``i`` of a split depends only on ``(seed, split, i)``; the same settings
  give byte-identical files.

Command line (the datasets prepare themselves on first use; this is for doing it ahead)::

    python -m mmbackbones.demos.datasets canvas data/digit_det --masks
    python tools/misc/prepare_digit_canvas.py data/digit_det --masks    # the same
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from . import settings as rules
from ._folder import prepare_folder, write_marker
from .metainfo import SPLITS, check_split, coco_categories

#: Grey level (0-1) above which an upscaled digit pixel is ink (and part of its box and mask).
INK_THRESHOLD = 0.35
#: Minimum distance in pixels between two digit boxes, and between a box and any clutter.
GAP = 2
_MARKER = 'digit_canvas.json'

#: The generator settings: default, rule and meaning of each.
SETTINGS = rules.GeneratorSettings(
    'generator', version=1,
    **rules.seed_and_counts('canvases', num_train=3000, num_val=500),
    canvas_size=rules.Setting(128, rules.FrameSide(margin=2 * GAP),
                              'side of the square canvas in pixels'),
    digits_per_image=rules.Setting((2, 6), rules.Span(1),
                                   '(min, max) digits per canvas (fewer when they do not fit)'),
    digit_size=rules.digit_size_setting((16, 40)),
    val_fraction=rules.VAL_FRACTION,
)
DEFAULTS = SETTINGS.defaults


@dataclass
class Canvas:
    """One generated image with its digits.

    Attributes:
        image: ``H x W`` uint8 grey image, ink bright on a dark background.
        boxes: ``N x 4`` int array ``[x0, y0, x1, y1)``: the digit covers pixel columns
            ``x0..x1-1`` and rows ``y0..y1-1`` (COCO ``[x0, y0, x1 - x0, y1 - y0]``).
        labels: ``N`` digits 0-9.
        sources: ``N`` indices into ``sklearn.datasets.load_digits()``.
        instances: ``H x W`` int16 map, ``k + 1`` on the ink of digit ``k``, 0 elsewhere.
        clutter: ``H x W`` bool map of the clutter's pixels.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    instances: np.ndarray
    clutter: np.ndarray

    def semantic_mask(self) -> np.ndarray:
        """``H x W`` uint8 class map: 0 background (clutter included), ``1 + digit`` on ink."""
        lut = np.concatenate([[0], self.labels + 1]).astype(np.uint8)
        return lut[self.instances]


def source_digits(val_fraction: float = DEFAULTS['val_fraction'],
                  split_seed: Optional[int] = None) -> dict:
    """scikit-learn's digits as 0-1 grey images, with the sample indices of each split.

    Args:
        val_fraction: The fraction of the samples in ``val``.
        split_seed: None: ``val`` is the last ``round(1797 * val_fraction)`` indices. An int:
            the stratified split of the 2D digits job's dataset
            (:func:`~mmbackbones.demos.datasets.digits.prepare_digits` with this ``seed`` and
            ``val_fraction``): ``train`` holds exactly the samples that job trains on.

    Returns:
        ``dict(images=(1797, 8, 8) float32, targets=(1797,) int, train=indices, val=indices)``,
        the indices sorted.
    """
    SETTINGS.check(dict(val_fraction=val_fraction))
    from sklearn.datasets import load_digits
    digits = load_digits()
    n = len(digits.images)
    if split_seed is None:
        n_val = int(round(n * val_fraction))
        train, val = np.arange(n - n_val), np.arange(n - n_val, n)
    else:
        rules.Count(0).check('split_seed', split_seed)
        from sklearn.model_selection import train_test_split
        train, val = (np.sort(idx) for idx in train_test_split(
            np.arange(n), test_size=val_fraction, random_state=split_seed,
            stratify=digits.target))
    return dict(images=(digits.images / 16.0).astype(np.float32),
                targets=digits.target.astype(np.int64), train=train, val=val)


def generate(split: str, num_images: int, seed: int = DEFAULTS['seed'],
             canvas_size: int = DEFAULTS['canvas_size'],
             digits_per_image: Sequence[int] = DEFAULTS['digits_per_image'],
             digit_size: Sequence[int] = DEFAULTS['digit_size'],
             val_fraction: float = DEFAULTS['val_fraction'],
             sources: Optional[dict] = None) -> Iterator[Canvas]:
    """Yield the canvases of ``split`` in order, in memory (nothing is written).

    Args:
        split: ``'train'`` or ``'val'``; each uses only its own digit samples.
        num_images: How many canvases.
        sources: The result of :func:`source_digits`, to share it between calls.
        seed, canvas_size, digits_per_image, digit_size, val_fraction: The generator
            settings (:data:`SETTINGS`).

    Example:
        >>> canvas = next(generate('val', 1))
        >>> canvas.image.shape, canvas.boxes.shape[1], canvas.semantic_mask().max() <= 10
        ((128, 128), 4, True)
    """
    check_split(split)
    rules.Count(0).check('num_images', num_images)
    SETTINGS.check(dict(seed=seed, canvas_size=canvas_size, digits_per_image=digits_per_image,
                        digit_size=digit_size, val_fraction=val_fraction))
    if sources is None:
        sources = source_digits(val_fraction)
    pool = sources[split]
    for i in range(num_images):
        rng = np.random.default_rng((seed, SPLITS.index(split), i))
        yield _render(rng, sources, pool, canvas_size, tuple(digits_per_image), tuple(digit_size))


def _upscale(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of a 0-1 float image, clipped to 0-1 (bicubic overshoots)."""
    from PIL import Image
    out = Image.fromarray(img.astype(np.float32), mode='F').resize((width, height),
                                                                   Image.BICUBIC)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def _ink_patch(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """The upscaled digit cut to the tight box of its ink; non-ink pixels set to 0."""
    up = _upscale(img, height, width)
    up[up <= INK_THRESHOLD] = 0.0
    rows, cols = np.flatnonzero(up.any(1)), np.flatnonzero(up.any(0))
    return up[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _find_place(rng: np.random.Generator, h: int, w: int, size: int,
                taken: list[tuple[int, int, int, int]], tries: int = 40
                ) -> Optional[tuple[int, int, int, int]]:
    """A box ``(x0, y0, x1, y1)`` of ``h x w`` inside the canvas, ``GAP`` from every taken box."""
    for _ in range(tries):
        x0 = int(rng.integers(0, size - w + 1))
        y0 = int(rng.integers(0, size - h + 1))
        box = (x0, y0, x0 + w, y0 + h)
        if all(box[0] >= t[2] + GAP or t[0] >= box[2] + GAP or box[1] >= t[3] + GAP
               or t[1] >= box[3] + GAP for t in taken):
            return box
    return None


def _clutter_patch(rng: np.random.Generator, sources: dict, pool: np.ndarray) -> np.ndarray:
    """A 0-1 patch that is not a digit: a thin pen stroke, a dot or a cut digit fragment."""
    kind = rng.choice(['stroke', 'dot', 'fragment'], p=[0.45, 0.2, 0.35])
    if kind == 'fragment':
        # a 3-4 px corner of a digit, upscaled like the digits: a piece of a curve
        img = sources['images'][rng.choice(pool)]
        k = int(rng.integers(3, 5))
        r, c = (int(v) for v in rng.integers(0, 9 - k, size=2))
        piece = img[r:r + k, c:c + k]
        if piece.max() <= INK_THRESHOLD:
            piece = img[2:6, 2:6]
        scale = rng.uniform(2.0, 4.0)
        up = _upscale(piece, int(round(k * scale)), int(round(k * scale)))
        up[up <= INK_THRESHOLD] = 0.0
        return up
    from PIL import Image, ImageDraw
    side = int(rng.integers(6, 20)) if kind == 'stroke' else int(rng.integers(2, 6))
    layer = Image.new('L', (side, side), 0)
    draw = ImageDraw.Draw(layer)
    if kind == 'stroke':
        points = [tuple(float(v) for v in rng.uniform(0, side - 1, size=2))
                  for _ in range(int(rng.integers(2, 4)))]
        draw.line(points, fill=255, width=1)
    else:
        draw.ellipse([0, 0, side - 1, side - 1], fill=255)
    return np.asarray(layer, dtype=np.float32) / 255.0


def _blend(canvas: np.ndarray, patch: np.ndarray, box: tuple[int, int, int, int],
           intensity: float) -> None:
    """Bright ink over the background: ``canvas += alpha * (1 - canvas)``, in place."""
    x0, y0, x1, y1 = box
    alpha = patch * intensity
    region = canvas[y0:y1, x0:x1]
    region += alpha * (1.0 - region)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``size x size`` 0-1 float background: a dim level and a linear brightness gradient
    (the pixel noise is added after the ink)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    gx, gy = rng.uniform(-0.08, 0.08, size=2)
    canvas = (rng.uniform(0.02, 0.15) + gx * (xx - 0.5) + gy * (yy - 0.5)).astype(np.float32)
    return np.clip(canvas, 0.0, 1.0)


def _render(rng: np.random.Generator, sources: dict, pool: np.ndarray, size: int,
            count: tuple[int, int], digit_size: tuple[int, int]) -> Canvas:
    # background: a dim level, a linear brightness gradient and pixel noise
    canvas = _background(rng, size)
    instances = np.zeros((size, size), np.int16)
    clutter = np.zeros((size, size), bool)

    boxes, labels, indices = [], [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        index = int(rng.choice(pool))
        height = int(rng.integers(digit_size[0], digit_size[1] + 1))
        width = max(4, int(round(height * rng.uniform(0.7, 1.0))))
        patch = _ink_patch(sources['images'][index], height, width)
        box = _find_place(rng, patch.shape[0], patch.shape[1], size, boxes)
        if box is None:
            continue
        _blend(canvas, patch, box, rng.uniform(0.65, 1.0))
        x0, y0, x1, y1 = box
        instances[y0:y1, x0:x1][patch > 0] = len(boxes) + 1
        boxes.append(box)
        labels.append(int(sources['targets'][index]))
        indices.append(index)

    taken = list(boxes)
    for _ in range(int(rng.integers(1, 5))):
        patch = _clutter_patch(rng, sources, pool)
        box = _find_place(rng, patch.shape[0], patch.shape[1], size, taken)
        if box is None or not patch.any():
            continue
        _blend(canvas, patch, box, rng.uniform(0.3, 0.8))
        x0, y0, x1, y1 = box
        clutter[y0:y1, x0:x1] |= patch > 0
        taken.append(box)

    canvas += rng.normal(0.0, 0.02, size=canvas.shape).astype(np.float32)
    image = np.round(np.clip(canvas, 0.0, 1.0) * 255).astype(np.uint8)
    return Canvas(image=image, boxes=np.asarray(boxes, np.int64).reshape(-1, 4),
                  labels=np.asarray(labels, np.int64), sources=np.asarray(indices, np.int64),
                  instances=instances, clutter=clutter)


def _coco(canvases: list[Canvas], split: str, size: int) -> dict:
    images, annotations = [], []
    for i, canvas in enumerate(canvases):
        images.append(dict(id=i, file_name=f'{i:05d}.png', height=size, width=size))
        for box, label, source in zip(canvas.boxes, canvas.labels, canvas.sources):
            x0, y0, x1, y1 = (int(v) for v in box)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i, category_id=int(label) + 1,
                bbox=[x0, y0, x1 - x0, y1 - y0], area=(x1 - x0) * (y1 - y0), iscrowd=0,
                source_index=int(source)))
    return dict(
        info=dict(description=f'digit canvases ({split}): layouts of scikit-learn handwritten '
                  'digits, upscaled', version=SETTINGS.version),
        images=images, annotations=annotations, categories=coco_categories())


def _save_png(array: np.ndarray, path: str) -> None:
    from PIL import Image
    Image.fromarray(array, mode='L').save(path)


def _write_split(root: str, split: str, settings: dict, sources: dict, images: bool,
                 masks: bool) -> None:
    canvases = []
    for i, canvas in enumerate(generate(split, settings[f'num_{split}'], sources=sources,
                                        **SETTINGS.generate_args(settings))):
        if images:
            _save_png(canvas.image, osp.join(root, 'images', split, f'{i:05d}.png'))
        if masks:
            _save_png(canvas.semantic_mask(), osp.join(root, 'masks', split, f'{i:05d}.png'))
        canvas.image = canvas.instances = canvas.clutter = None  # keep only the annotations
        canvases.append(canvas)
    if images:
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(_coco(canvases, split, settings['canvas_size']), f)


def prepare_digit_canvas(data_root: str = 'data/digit_det', masks: bool = False,
                         **settings) -> str:
    """Write the digit canvases under ``data_root`` unless they are already there.

    Args:
        data_root: Folder of ``images/``, ``annotations/`` (and ``masks/``).
        masks: Also write the per-pixel class masks; added to an existing folder that has none.
        **settings: Generator settings (:data:`SETTINGS`: ``seed``, ``num_train``, ``num_val``,
            ``canvas_size``, ``digits_per_image``, ``digit_size``, ``val_fraction``). A folder
            prepared with other settings is an error.

    Returns:
        ``data_root``.

    Example:
        >>> root = prepare_digit_canvas('data/digit_det')
        >>> sorted(os.listdir(root))
        ['annotations', 'digit_canvas.json', 'images']
    """
    settings = SETTINGS.resolve(settings)

    def write(tmp: str) -> dict:
        sources = source_digits(settings['val_fraction'])
        os.makedirs(osp.join(tmp, 'annotations'))
        for split in SPLITS:
            os.makedirs(osp.join(tmp, 'images', split))
            if masks:
                os.makedirs(osp.join(tmp, 'masks', split))
            _write_split(tmp, split, settings, sources, images=True, masks=masks)
        return dict(masks=masks)

    found = prepare_folder(data_root, _MARKER, settings, write, what='digit canvases',
                           kind='digit canvas', maker='prepare_digit_canvas')
    if masks and not found.get('masks'):  # prepared earlier (or by another process) without
        _add_masks(data_root, settings)
    return data_root


def _add_masks(data_root: str, settings: dict) -> None:
    """Write ``masks/`` into a prepared folder through a temporary folder, then the marker."""
    tmp = tempfile.mkdtemp(prefix='.masks-', dir=data_root)
    try:
        sources = source_digits(settings['val_fraction'])
        for split in SPLITS:
            os.makedirs(osp.join(tmp, 'masks', split))
            _write_split(tmp, split, settings, sources, images=False, masks=True)
        try:
            os.replace(osp.join(tmp, 'masks'), osp.join(data_root, 'masks'))
        except OSError:
            if not osp.isdir(osp.join(data_root, 'masks')):  # else: another process did it
                raise
        write_marker(data_root, _MARKER, dict(settings, masks=True))
    finally:
        shutil.rmtree(tmp)


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``python -m mmbackbones.demos.datasets canvas`` (``tools/misc/prepare_digit_canvas.py``):
    ``[DATA_ROOT] [--masks] [--SETTING VALUE ...]``, every setting of :data:`SETTINGS`."""
    return SETTINGS.main(prepare_digit_canvas, argv, prog, masks='also write per-pixel masks')
