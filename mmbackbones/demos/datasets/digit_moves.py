"""Which digit moves which way: a video classification set whose class needs what a digit is
and how it moves.

Each clip shows one handwritten digit from scikit-learn's ``load_digits`` over ``num_frames``
(8) grey ``frame_size`` (32) px frames, as large as the 2D digits job sees them (the 8 x 8 sample
upscaled to 22-28 px) and near the frame's centre, moving in a straight line at 1-2 px per frame
over a static background with clutter, with fresh pixel noise in every frame (drawn with the
helpers of :mod:`.digit_clips`).

* Classes: the digit and the direction of its motion, ``10 x 4 = 40`` (:data:`CLASSES`:
  ``'0-right', '0-up', '0-left', '0-down', '1-right', ...``; label ``4 * digit + direction``),
  the direction one of :data:`DIRECTIONS` at an angle jittered by up to 10 degrees.
* What a single frame tells: the digit, and along which axis it moves, never which way. The
  path is centred: halfway through the clip the digit is at ``center`` (the frame's centre, give
  or take :data:`CENTER_JITTER` px), so frame ``t`` of a clip moving right looks like frame
  ``T - 1 - t`` of one moving left, and a frame drawn at random has the same distribution for
  both; an off-centre digit shows the axis. A model that sees one frame can at best read the
  digit and the axis and guess the rest: top-1 at most half its accuracy on that pair
  (:data:`FRAME_GROUPS`), ``<= 0.5``. Frames in a shuffled order show as much.
* Few clips per class: 120 train clips are 3 per class (clip ``i`` has class ``i % 40``, so
  every class has the same count), 12 per digit: the look of the digits has to be learnt from
  few clips, against the 1,437 images of the 2D digits job whose checkpoint the inflated configs
  start from (12x the clips, as ImageNet's 1.28M images are 135x UCF101's 9.5k clips). How much
  inflation gains over scratch grows as the clips per class shrink (docs/video.md measures 3, 5,
  10 and 20). 400 val clips (10 per class).
* Splits: the digit samples of the 2D digits job's stratified split
  (:func:`~.digit_canvas.source_digits` with ``split_seed``): train clips use only the samples
  that job trains on, val clips only those it holds out, so its checkpoint never saw a val clip's
  digit.
* Files, under ``data_root``: ``{train,val}/clips.npy`` (``N x T x H x W`` uint8),
  ``{train,val}/annotations.json`` (per clip: ``label``, ``digit``, ``direction`` name,
  ``velocity`` in px/frame ``(dx, dy)`` with ``y`` down, ``center`` ``(x, y)`` of the digit
  halfway through the clip, sklearn ``source_index``) and ``digit_moves.json`` with the
  settings. Written once, atomically: an interrupted run never leaves a half-written folder.
* Deterministic: clip ``i`` of a split depends only on ``(seed, split, i)``; the same settings
  give byte-identical files.

Command line (the dataset prepares itself on first use)::

    python -m mmbackbones.demos.datasets moves data/digit_moves
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from . import settings as rules
from .digit_canvas import source_digits
from .digit_clips import ClipSet, digit_patch, draw_velocity, film, static_scene
from .metainfo import CLASSES as DIGITS
from .metainfo import SPLITS, check_split

#: The 4 directions of motion, counter-clockwise from "right" (image ``y`` points down).
DIRECTIONS = ('right', 'up', 'left', 'down')
#: ``'<digit>-<direction>'``; label ``4 * digit + direction``.
CLASSES = tuple(f'{d}-{w}' for d in DIGITS for w in DIRECTIONS)
#: What a single frame can tell of the class: the digit and the axis of the motion (where the
#: digit is off centre), never which way along it: group ``2 * digit + direction % 2``.
FRAME_GROUPS = tuple(2 * (label // len(DIRECTIONS)) + label % 2 for label in range(len(CLASSES)))
#: How far (px, in x and in y) the middle of a digit's path is from the frame's centre, at most.
CENTER_JITTER = 2.0
_MARKER = 'digit_moves.json'

#: The generator settings: default, rule and meaning of each.
SETTINGS = rules.GeneratorSettings(
    'digit moves', version=1,
    # 3 train clips per class; digits as large as the 2D digits job's (8 x 8 upscaled to
    # 32 x 32, ink 24-32 px)
    **rules.clip_settings(num_train=120, num_val=400, digit_size=(22, 28), speed=(1.0, 2.0)),
    split_seed=rules.Setting(0, rules.Count(0),
                             "seed of the stratified split of the digit samples (the 2D digits "
                             "job's: prepare_digits(seed=split_seed, val_fraction=val_fraction))"),
)
DEFAULTS = SETTINGS.defaults


@dataclass
class MovingDigit:
    """One generated clip.

    Attributes:
        frames: ``T x H x W`` uint8 grey frames, ink bright on a dark background.
        label: Index into :data:`CLASSES`: ``4 * digit + direction``.
        digit: The digit, 0-9 (scikit-learn's target of ``source``).
        direction: Index into :data:`DIRECTIONS`.
        velocity: ``(dx, dy)`` in pixels per frame (``y`` down).
        center: ``(x, y)`` of the digit's centre halfway through the clip.
        source: Index into ``sklearn.datasets.load_digits()``.
    """

    frames: np.ndarray
    label: int
    digit: int
    direction: int
    velocity: tuple[float, float]
    center: tuple[float, float]
    source: int

    def annotation(self) -> dict:
        """What ``annotations.json`` records of the clip."""
        return dict(label=self.label, digit=self.digit, direction=DIRECTIONS[self.direction],
                    velocity=[round(c, 4) for c in self.velocity],
                    center=[round(c, 4) for c in self.center], source_index=self.source)


def generate(split: str, num_clips: int, sources: Optional[dict] = None,
             **settings) -> Iterator[MovingDigit]:
    """Yield the clips of ``split`` in order, in memory (nothing is written); clip ``i`` is of
    class ``i % 40``.

    Args:
        split: ``'train'`` or ``'val'``; each uses only its own digit samples.
        num_clips: How many clips.
        sources: The result of :func:`~.digit_canvas.source_digits` with ``split_seed``.
        **settings: Generator settings (:data:`SETTINGS`; the others at their defaults).

    Example:
        >>> clip = next(generate('val', 1))
        >>> clip.frames.shape, CLASSES[clip.label]
        ((8, 32, 32), '0-right')
    """
    check_split(split)
    rules.Count(0).check('num_clips', num_clips)
    args = SETTINGS.generate_args(SETTINGS.resolve(settings))
    if sources is None:
        sources = source_digits(args['val_fraction'], split_seed=args['split_seed'])
    pool = sources[split]
    by_digit = [pool[sources['targets'][pool] == d] for d in range(len(DIGITS))]
    size, num_frames = args['frame_size'], args['num_frames']
    for i in range(num_clips):
        rng = np.random.default_rng((args['seed'], SPLITS.index(split), i))
        label = i % len(CLASSES)
        digit, direction = divmod(label, len(DIRECTIONS))
        index = int(rng.choice(by_digit[digit]))
        velocity = draw_velocity(rng, 90.0 * direction, args['speed'])
        center = tuple(float(c) for c in size / 2 + rng.uniform(-CENTER_JITTER, CENTER_JITTER,
                                                                size=2))
        patch, intensity = digit_patch(rng, sources, index, args['digit_size'])
        scene = static_scene(rng, sources, pool, size)
        layers = [_placed(patch, size, center, velocity, t - (num_frames - 1) / 2)
                  for t in range(num_frames)]
        yield MovingDigit(frames=film(rng, scene, layers, intensity), label=label, digit=digit,
                          direction=direction, velocity=velocity, center=center, source=index)


def _placed(patch: np.ndarray, size: int, center: tuple[float, float],
            velocity: tuple[float, float], time: float) -> np.ndarray:
    """A ``size x size`` layer holding ``patch`` centred at ``center + time * velocity``, cut at
    the frame's edges."""
    h, w = patch.shape
    x0 = int(round(center[0] + time * velocity[0] - w / 2))
    y0 = int(round(center[1] + time * velocity[1] - h / 2))
    layer = np.zeros((size + 2 * h, size + 2 * w), np.float32)  # room to cut at every edge
    layer[y0 + h:y0 + 2 * h, x0 + w:x0 + 2 * w] = patch
    return layer[h:h + size, w:w + size]


_SET = ClipSet(SETTINGS, generate, CLASSES, marker=_MARKER, what='digit moves',
               kind='digit moves', maker='prepare_digit_moves')


def prepare_digit_moves(data_root: str = 'data/digit_moves', **settings) -> str:
    """Write the which-digit-moves-which-way clips under ``data_root`` unless they are there.

    Args:
        data_root: Folder of ``train/`` and ``val/``.
        **settings: Generator settings (:data:`SETTINGS`: those of the direction clips and
            ``split_seed``). A folder prepared with other settings is an error.

    Returns:
        ``data_root``.
    """
    return _SET.prepare(data_root, **settings)


def load_split(data_root: str, split: str) -> tuple[np.ndarray, list[dict]]:
    """The clips (``N x T x H x W`` uint8, memory-mapped) and annotations of a prepared split.

    Example:
        >>> clips, annotations = load_split(prepare_digit_moves(), 'val')
        >>> clips.shape, CLASSES[annotations[5]['label']]
        ((400, 8, 32, 32), '1-up')
    """
    return _SET.load_split(data_root, split)


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``python -m mmbackbones.demos.datasets moves [DATA_ROOT] [--SETTING VALUE ...]``, every
    setting of :data:`SETTINGS`."""
    return SETTINGS.main(prepare_digit_moves, argv, prog)
