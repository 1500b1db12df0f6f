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
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

from . import settings as rules
from ._folder import prepare_folder
from .digit_canvas import _background, _blend, _clutter_patch, _ink_patch, source_digits
from .metainfo import SPLITS, check_split

#: The 8 directions of motion, counter-clockwise from "right" (image ``y`` points down).
CLASSES = ('right', 'up-right', 'up', 'up-left', 'left', 'down-left', 'down', 'down-right')
#: What a single frame tells of the class: nothing, every class is in group 0 (the
#: digit's position is uniform on the torus in every frame, for every class).
FRAME_GROUPS = (0, ) * len(CLASSES)
_MARKER = 'digit_clips.json'

#: The generator settings: default, rule and meaning of each.
SETTINGS = rules.GeneratorSettings(
    'digit clip', version=1,
    **rules.clip_settings(num_train=800, num_val=240, digit_size=(10, 14), speed=(1.5, 2.5)))
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

    def annotation(self) -> dict:
        """What ``annotations.json`` records of the clip."""
        return dict(label=self.label, direction=CLASSES[self.label],
                    velocity=[round(c, 4) for c in self.velocity],
                    start=[round(c, 4) for c in self.start], source_index=self.source)


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
    velocity = draw_velocity(rng, 45.0 * label, speed)
    start = tuple(float(c) for c in rng.uniform(0, size, size=2))
    index = int(rng.choice(pool))
    frames = render_moving_digit(rng, sources, pool, index, start, velocity, num_frames, size,
                                 digit_size)
    return Clip(frames=frames, label=label, velocity=velocity, start=start, source=index)


def draw_velocity(rng: np.random.Generator, degrees: float,
                  speed: Sequence[float]) -> tuple[float, float]:
    """A velocity ``(dx, dy)`` in px/frame (``y`` down) at ``degrees`` counter-clockwise from
    "right", jittered by up to 10 degrees, at a speed drawn from ``speed`` ``(min, max)``."""
    angle = math.radians(degrees + rng.uniform(-10.0, 10.0))
    v = float(rng.uniform(*speed))
    return (v * math.cos(angle), -v * math.sin(angle))  # image y points down


def render_moving_digit(rng: np.random.Generator, sources: dict, pool: np.ndarray, index: int,
                        start: tuple[float, float], velocity: tuple[float, float],
                        num_frames: int, size: int, digit_size: tuple[int, int]) -> np.ndarray:
    """The ``num_frames x size x size`` uint8 frames of digit sample ``index`` (upscaled to a
    height drawn from ``digit_size``) moving on the torus from ``start`` at ``velocity``, over a
    static background with clutter drawn from the samples of ``pool``, with fresh pixel noise in
    every frame."""
    patch, intensity = digit_patch(rng, sources, index, digit_size)
    digit = np.zeros((size, size), np.float32)
    digit[:patch.shape[0], :patch.shape[1]] = patch
    scene = static_scene(rng, sources, pool, size)
    layers = [np.roll(digit, (int(round(start[1] + t * velocity[1])) % size,
                              int(round(start[0] + t * velocity[0])) % size), axis=(0, 1))
              for t in range(num_frames)]
    return film(rng, scene, layers, intensity)


def digit_patch(rng: np.random.Generator, sources: dict, index: int,
                digit_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Digit sample ``index`` upscaled to a height drawn from ``digit_size`` (width 0.7-1.0 of
    it), cut to its ink; and the intensity of its ink."""
    height = int(rng.integers(digit_size[0], digit_size[1] + 1))
    width = max(4, int(round(height * rng.uniform(0.7, 1.0))))
    patch = _ink_patch(sources['images'][index], height, width)
    return patch, rng.uniform(0.65, 1.0)


def static_scene(rng: np.random.Generator, sources: dict, pool: np.ndarray,
                 size: int) -> np.ndarray:
    """A ``size x size`` 0-1 background with a brightness gradient and 1-3 small pieces of
    clutter (cut from the samples of ``pool``) anywhere: what a moving digit passes over."""
    scene = _background(rng, size)
    for _ in range(int(rng.integers(1, 4))):
        piece = _clutter_patch(rng, sources, pool)[:size // 3, :size // 3]  # small ones
        h, w = piece.shape
        x0, y0 = (int(c) for c in rng.integers(0, size - np.array([w, h]) + 1))
        _blend(scene, piece[:h, :w], (x0, y0, x0 + w, y0 + h), rng.uniform(0.3, 0.8))
    return scene


def film(rng: np.random.Generator, scene: np.ndarray, layers: Sequence[np.ndarray],
         intensity: float) -> np.ndarray:
    """The uint8 frames of ink ``layers`` (one 0-1 layer per frame, the size of ``scene``) over
    the static ``scene``, with fresh pixel noise in every frame."""
    frames = np.empty((len(layers), ) + scene.shape, np.uint8)
    for t, layer in enumerate(layers):
        frame = scene.copy()
        _blend(frame, layer, (0, 0, scene.shape[1], scene.shape[0]), intensity)
        frame += rng.normal(0.0, 0.02, size=frame.shape).astype(np.float32)
        frames[t] = np.round(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    return frames


def write_clip_split(root: str, split: str, clips: Iterable, num_clips: int,
                     classes: Sequence[str]) -> None:
    """Write one split of a clip set: ``<root>/<split>/clips.npy`` (the ``frames`` of its
    ``num_clips`` ``clips``) and ``annotations.json`` (``classes``, and each clip's
    ``annotation()``)."""
    frames, annotations = None, []
    for i, clip in enumerate(clips):
        if frames is None:
            frames = np.empty((num_clips, ) + clip.frames.shape, np.uint8)
        frames[i] = clip.frames
        annotations.append(clip.annotation())
    os.makedirs(osp.join(root, split))
    np.save(osp.join(root, split, 'clips.npy'), frames)
    with open(osp.join(root, split, 'annotations.json'), 'w') as f:
        json.dump(dict(classes=list(classes), clips=annotations), f)


@dataclass(frozen=True)
class ClipSet:
    """How a clip set's folder is written and read: its generator settings, its ``generate``
    (``generate(split, num_clips, sources=..., **settings)``, clips with an ``annotation()``),
    the classes, the marker file, and what messages call the set, its folder and its
    ``prepare_*`` function."""

    settings: rules.GeneratorSettings
    generate: Callable[..., Iterator]
    classes: tuple[str, ...]
    marker: str
    what: str
    kind: str
    maker: str

    def prepare(self, data_root: str, **given) -> str:
        """Build ``data_root`` unless it is there with these settings (atomically, with the
        marker file, :func:`~._folder.prepare_folder`); the digit samples of
        :func:`~.digit_canvas.source_digits`, split by the ``split_seed`` setting where the set
        has one."""
        settings = self.settings.resolve(given)

        def write(tmp: str) -> None:
            sources = source_digits(settings['val_fraction'],
                                    split_seed=settings.get('split_seed'))
            for split in SPLITS:
                n = settings[f'num_{split}']
                clips = self.generate(split, n, sources=sources,
                                      **self.settings.generate_args(settings))
                write_clip_split(tmp, split, clips, n, self.classes)

        prepare_folder(data_root, self.marker, settings, write, what=self.what, kind=self.kind,
                       maker=self.maker)
        return data_root

    def load_split(self, data_root: str, split: str) -> tuple[np.ndarray, list[dict]]:
        """The clips (``N x T x H x W`` uint8, memory-mapped) and annotations of a split.

        Raises:
            ValueError: An unknown split.
            FileNotFoundError: ``data_root`` holds no marker file of this set.
        """
        check_split(split)
        if not osp.isfile(osp.join(data_root, self.marker)):
            raise FileNotFoundError(f'data_root={data_root!r} is not a prepared {self.kind} '
                                    f'folder (no {self.marker}); prepare it with '
                                    f'{self.maker}().')
        clips = np.load(osp.join(data_root, split, 'clips.npy'), mmap_mode='r')
        with open(osp.join(data_root, split, 'annotations.json')) as f:
            annotations = json.load(f)['clips']
        return clips, annotations


_SET = ClipSet(SETTINGS, generate, CLASSES, marker=_MARKER, what='digit clips',
               kind='digit clip', maker='prepare_digit_clips')


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
    return _SET.prepare(data_root, **settings)


def load_split(data_root: str, split: str) -> tuple[np.ndarray, list[dict]]:
    """The clips (``N x T x H x W`` uint8, memory-mapped) and annotations of a prepared split.

    Example:
        >>> clips, annotations = load_split(prepare_digit_clips(), 'val')
        >>> clips.shape, annotations[0]['direction'] in CLASSES
        ((240, 8, 32, 32), True)
    """
    return _SET.load_split(data_root, split)


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``python -m mmbackbones.demos.datasets clips [DATA_ROOT] [--SETTING VALUE ...]``, every
    setting of :data:`SETTINGS`."""
    return SETTINGS.main(prepare_digit_clips, argv, prog)
