"""Moving-digit clips: a video classification set whose classes only time tells apart.

Each clip shows one handwritten digit from scikit-learn's ``load_digits`` (real handwriting, the
samples of :func:`~mmbackbones.demos.datasets.digit_canvas.source_digits`), upscaled to 10-14 px,
moving in a straight line at 1.5-2.5 px per frame over ``num_frames`` (8) grey ``frame_size``
(32) px frames, on a static background with a brightness gradient and static clutter (pen
strokes, dots, digit fragments), plus fresh pixel noise in every frame: the background, the
clutter and the digit are drawn with :mod:`.digit_canvas`'s helpers.

* Classes: the direction of the motion, one of the 8 compass directions (:data:`CLASSES`:
  ``'right', 'up-right', 'up', ..., 'down-right'``), at an angle jittered by up to 10 degrees.
* Why a single frame cannot tell them apart: the frame is a torus (a digit leaving at one edge
  re-enters at the opposite one), and the digit's position in the first frame is uniform over
  it, so in every frame the digit's position is uniform for every class; the digit, its size,
  its speed, the background and the clutter are drawn independently of the class. Only the
  change from frame to frame shows the direction. ``tools/analysis_tools/clip_time_controls.py``
  measures it: a trained 3D model on frame-shuffled clips, and a 2D model on single frames.
* Splits: val clips use only the last ``val_fraction`` of the digit samples, train clips only
  the others (as the digit canvases).
* Files, under ``data_root``: ``{train,val}/clips.npy`` (``N x T x H x W`` uint8),
  ``{train,val}/annotations.json`` (per clip: ``label``, ``direction`` name, ``velocity`` in
  px/frame ``(dx, dy)`` with ``y`` down, ``start`` ``(x, y)``, sklearn ``source_index``) and
  ``digit_clips.json`` with the settings. Written once, atomically
  (:func:`~mmbackbones.utils.fileio.build_folder_atomically`): an interrupted run never
  leaves a half-written folder.
* Deterministic: clip ``i`` of a split depends only on ``(seed, split, i)``; the same settings
  give byte-identical files.

Command line (the dataset prepares itself on first use)::

    python -m mmbackbones.demos.datasets clips data/digit_clips
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from . import settings as rules
from ._folder import prepare_folder
from .digit_canvas import _background, _blend, _clutter_patch, _ink_patch, source_digits
from .metainfo import SPLITS, check_split

#: The 8 directions of motion, counter-clockwise from "right" (image ``y`` points down).
CLASSES = ('right', 'up-right', 'up', 'up-left', 'left', 'down-left', 'down', 'down-right')
_MARKER = 'digit_clips.json'

#: The generator settings: default, rule and meaning of each.
SETTINGS = rules.GeneratorSettings(
    'digit clip', version=1,
    **rules.seed_and_counts('clips', num_train=800, num_val=240),
    num_frames=rules.Setting(8, rules.Count(2), 'frames per clip'),
    frame_size=rules.Setting(32, rules.FrameSide(margin=4),
                             'side of the square frames in pixels'),
    digit_size=rules.digit_size_setting((10, 14)),
    speed=rules.speed_setting((1.5, 2.5)),
    val_fraction=rules.VAL_FRACTION,
)
DEFAULTS = SETTINGS.defaults


@dataclass
class Clip:
    """One generated clip.

    Attributes:
        frames: ``T x H x W`` uint8 grey frames, ink bright on a dark background.
        label: Index into :data:`CLASSES`.
        velocity: ``(dx, dy)`` in pixels per frame (``y`` down).
        start: ``(x, y)`` of the digit's top-left corner in the first frame.
        source: Index into ``sklearn.datasets.load_digits()``.
    """

    frames: np.ndarray
    label: int
    velocity: tuple[float, float]
    start: tuple[float, float]
    source: int


def generate(split: str, num_clips: int, seed: int = DEFAULTS['seed'],
             num_frames: int = DEFAULTS['num_frames'], frame_size: int = DEFAULTS['frame_size'],
             digit_size: Sequence[int] = DEFAULTS['digit_size'],
             speed: Sequence[float] = DEFAULTS['speed'],
             val_fraction: float = DEFAULTS['val_fraction'],
             sources: Optional[dict] = None) -> Iterator[Clip]:
    """Yield the clips of ``split`` in order, in memory (nothing is written).

    Args:
        split: ``'train'`` or ``'val'``; each uses only its own digit samples.
        num_clips: How many clips.
        sources: The result of :func:`~mmbackbones.demos.datasets.digit_canvas.source_digits`.
        seed, num_frames, frame_size, digit_size, speed, val_fraction: The generator
            settings (:data:`SETTINGS`).

    Example:
        >>> clip = next(generate('val', 1))
        >>> clip.frames.shape, CLASSES[clip.label] in CLASSES
        ((8, 32, 32), True)
    """
    check_split(split)
    rules.Count(0).check('num_clips', num_clips)
    SETTINGS.check(dict(seed=seed, num_frames=num_frames, frame_size=frame_size,
                        digit_size=digit_size, speed=speed, val_fraction=val_fraction))
    if sources is None:
        sources = source_digits(val_fraction)
    pool = sources[split]
    for i in range(num_clips):
        rng = np.random.default_rng((seed, SPLITS.index(split), i))
        yield _render(rng, sources, pool, num_frames, frame_size, tuple(digit_size), speed)


def _render(rng: np.random.Generator, sources: dict, pool: np.ndarray, num_frames: int,
            size: int, digit_size: tuple[int, int], speed: Sequence[float]) -> Clip:
    label = int(rng.integers(len(CLASSES)))
    angle = math.radians(45.0 * label + rng.uniform(-10.0, 10.0))
    v = float(rng.uniform(*speed))
    velocity = (v * math.cos(angle), -v * math.sin(angle))  # image y points down
    start = tuple(float(c) for c in rng.uniform(0, size, size=2))

    index = int(rng.choice(pool))
    height = int(rng.integers(digit_size[0], digit_size[1] + 1))
    width = max(4, int(round(height * rng.uniform(0.7, 1.0))))
    digit = np.zeros((size, size), np.float32)
    patch = _ink_patch(sources['images'][index], height, width)
    digit[:patch.shape[0], :patch.shape[1]] = patch
    intensity = rng.uniform(0.65, 1.0)

    # static scene: background and clutter anywhere (the digit passes over them)
    scene = _background(rng, size)
    for _ in range(int(rng.integers(1, 4))):
        piece = _clutter_patch(rng, sources, pool)[:size // 3, :size // 3]  # small ones
        h, w = piece.shape
        x0, y0 = (int(c) for c in rng.integers(0, size - np.array([w, h]) + 1))
        _blend(scene, piece[:h, :w], (x0, y0, x0 + w, y0 + h), rng.uniform(0.3, 0.8))

    frames = np.empty((num_frames, size, size), np.uint8)
    for t in range(num_frames):
        x = int(round(start[0] + t * velocity[0])) % size
        y = int(round(start[1] + t * velocity[1])) % size
        frame = scene.copy()
        _blend(frame, np.roll(digit, (y, x), axis=(0, 1)), (0, 0, size, size), intensity)
        frame += rng.normal(0.0, 0.02, size=frame.shape).astype(np.float32)
        frames[t] = np.round(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    return Clip(frames=frames, label=label, velocity=velocity, start=start, source=index)


def _write_split(root: str, split: str, settings: dict, sources: dict) -> None:
    n, size = settings[f'num_{split}'], settings['frame_size']
    clips = np.empty((n, settings['num_frames'], size, size), np.uint8)
    annotations = []
    for i, clip in enumerate(generate(split, n, sources=sources,
                                      **SETTINGS.generate_args(settings))):
        clips[i] = clip.frames
        annotations.append(dict(label=clip.label, direction=CLASSES[clip.label],
                                velocity=[round(c, 4) for c in clip.velocity],
                                start=[round(c, 4) for c in clip.start],
                                source_index=clip.source))
    os.makedirs(osp.join(root, split))
    np.save(osp.join(root, split, 'clips.npy'), clips)
    with open(osp.join(root, split, 'annotations.json'), 'w') as f:
        json.dump(dict(classes=list(CLASSES), clips=annotations), f)


def prepare_digit_clips(data_root: str = 'data/digit_clips', **settings) -> str:
    """Write the moving-digit clips under ``data_root`` unless they are already there.

    Args:
        data_root: Folder of ``train/`` and ``val/``.
        **settings: Generator settings (:data:`SETTINGS`: ``seed``, ``num_train``, ``num_val``,
            ``num_frames``, ``frame_size``, ``digit_size``, ``speed``, ``val_fraction``). A
            folder prepared with other settings is an error.

    Returns:
        ``data_root``.

    Example:
        >>> root = prepare_digit_clips('data/digit_clips')
        >>> sorted(os.listdir(root))
        ['digit_clips.json', 'train', 'val']
    """
    settings = SETTINGS.resolve(settings)

    def write(tmp: str) -> None:
        sources = source_digits(settings['val_fraction'])
        for split in SPLITS:
            _write_split(tmp, split, settings, sources)

    prepare_folder(data_root, _MARKER, settings, write, what='digit clips', kind='digit clip',
                   maker='prepare_digit_clips')
    return data_root


def load_split(data_root: str, split: str) -> tuple[np.ndarray, list[dict]]:
    """The clips (``N x T x H x W`` uint8, memory-mapped) and annotations of a prepared split.

    Example:
        >>> clips, annotations = load_split(prepare_digit_clips(), 'val')
        >>> clips.shape, annotations[0]['direction'] in CLASSES
        ((240, 8, 32, 32), True)
    """
    check_split(split)
    folder = osp.join(data_root, split)
    if not osp.isfile(osp.join(data_root, _MARKER)):
        raise FileNotFoundError(f'data_root={data_root!r} is not a prepared digit clip folder '
                                f'(no {_MARKER}); prepare it with prepare_digit_clips().')
    clips = np.load(osp.join(folder, 'clips.npy'), mmap_mode='r')
    with open(osp.join(folder, 'annotations.json')) as f:
        annotations = json.load(f)['clips']
    return clips, annotations


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``python -m mmbackbones.demos.datasets clips [DATA_ROOT] [--SETTING VALUE ...]``, every
    setting of :data:`SETTINGS`."""
    return SETTINGS.main(prepare_digit_clips, argv, prog)
