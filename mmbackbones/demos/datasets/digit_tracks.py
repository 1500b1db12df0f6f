"""Digit tracks: multi-object tracking videos of real handwritten digits, in MOTChallenge layout.

Each video is ``seq_len`` grey frames of ``frame_size`` pixels holding 2-5 handwritten digits of
scikit-learn's ``load_digits`` (rendered as in :mod:`.digit_canvas`: bicubic upscaling, ink above
``INK_THRESHOLD``, a dim background with a brightness gradient and pixel noise, clutter that is not
a digit). The digits move with their own constant velocities:

* Most bounce off the borders (a reflected trajectory); the first two of every video are aimed at
  each other so that they cross (and occlude each other) near a random frame.
* Some (``pass_fraction`` of the others) do not bounce off the borders across their direction of
  motion: half of them enter the frame through a border in the first half of the video, the
  others leave through one in the second half.
* Depth: every digit has its own depth; a nearer digit's ink hides the farther digit's ink.

Ground truth of every frame, per visible digit: the box is the tight box of the digit's *visible*
ink (its ink pixels inside the frame and not under a nearer digit's ink), with its class and its
track id (``1..N`` within the video, the same through occlusions). A digit whose visible ink is
less than ``MIN_VISIBILITY`` of its full ink is not annotated in that frame (fully occluded, or
almost out of the frame). The clutter is static and placed where no digit's box comes within
``GAP`` pixels in any frame, so no box ever holds clutter.

Splits: as in :mod:`.digit_canvas`, train videos use only the first 80 % of the digit samples and
val videos only the last 20 % (disjoint samples). Video ``i`` of a split depends only on
``(seed, split, i)``.

Files under ``data_root`` (MOTChallenge layout, plus COCO-video json for mmdet's CocoMetric)::

    digit_tracks.json                   # settings, written last (the "prepared" marker)
    {train,val}/seq-NNNN/seqinfo.ini    # name, frameRate, seqLength, imWidth, imHeight, imExt
    {train,val}/seq-NNNN/img1/000001.png
    {train,val}/seq-NNNN/gt/gt.txt      # frame,id,x,y,w,h,1,class,visibility (1-based frames)
    annotations/{train,val}.json        # COCO with videos; images carry video_id, frame_id
                                        # (0-based); annotations carry instance_id, track_id

In ``gt.txt`` the class is ``1 + digit`` (as the COCO ``category_id``) and boxes are in pixels
(``x, y`` the top-left pixel, 0-based as in the COCO json). The folder is written once, in a
temporary sibling renamed into place (:func:`~._folder.build_folder_atomically`).

Command line (the datasets prepare themselves on first use)::

    python -m mmbackbones.demos.datasets tracks data/digit_tracks
"""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from . import settings as rules
from ._folder import prepare_folder
from .digit_canvas import GAP, _blend, _clutter_patch, _ink_patch
from .digit_canvas import source_digits as _source_digits
from .metainfo import SPLITS, check_split, coco_categories

#: A digit is annotated in a frame when at least this fraction of its ink is visible.
MIN_VISIBILITY = 0.25
_MARKER = 'digit_tracks.json'

#: The generator settings: default, rule and meaning of each.
SETTINGS = rules.GeneratorSettings(
    'generator', version=1,
    **rules.seed_and_counts('videos', num_train=1920, num_val=12),
    seq_len=rules.Setting(24, rules.Count(2), 'frames per video'),
    frame_size=rules.Setting(96, rules.FrameSide(fit=2, margin=2 * GAP),
                             'side of the square frames in pixels'),
    digits_per_video=rules.Setting((2, 5), rules.Span(2),
                                   '(min, max) digits (tracks) per video'),
    digit_size=rules.digit_size_setting((16, 28)),
    speed=rules.speed_setting((0.8, 3.0)),
    pass_fraction=rules.Setting(0.6, rules.Fraction(closed=True),
                                'chance that a digit (other than the first two) enters or '
                                'leaves the frame instead of bouncing inside it'),
    val_fraction=rules.VAL_FRACTION,
)
DEFAULTS = SETTINGS.defaults


@dataclass
class Video:
    """One generated video with its ground truth.

    Attributes:
        frames: ``T x H x W`` uint8 grey frames.
        instances: ``T x H x W`` int16 maps: ``k`` on the visible ink of track ``k`` (1-based).
        clutter: ``H x W`` bool map of the (static) clutter.
        labels: ``N`` digits 0-9 of tracks ``1..N``.
        sources: ``N`` indices into ``sklearn.datasets.load_digits()``.
        gt: ``M x 8`` float rows ``frame (0-based), track id, x0, y0, x1, y1, class (digit),
            visibility`` with boxes ``[x0, x1) x [y0, y1)`` in pixels.
    """

    frames: np.ndarray
    instances: np.ndarray
    clutter: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    gt: np.ndarray


def generate(split: str, num_videos: int, seed: int = DEFAULTS['seed'],
             seq_len: int = DEFAULTS['seq_len'], frame_size: int = DEFAULTS['frame_size'],
             digits_per_video: Sequence[int] = DEFAULTS['digits_per_video'],
             digit_size: Sequence[int] = DEFAULTS['digit_size'],
             speed: Sequence[float] = DEFAULTS['speed'],
             pass_fraction: float = DEFAULTS['pass_fraction'],
             val_fraction: float = DEFAULTS['val_fraction'],
             sources: Optional[dict] = None) -> Iterator[Video]:
    """Yield the videos of ``split`` in order, in memory (nothing is written).

    Args:
        split: ``'train'`` or ``'val'``; each uses only its own digit samples.
        num_videos: How many videos.
        sources: The result of :func:`~.digit_canvas.source_digits`, to share it between calls.
        seed, seq_len, frame_size, digits_per_video, digit_size, speed, pass_fraction,
            val_fraction: The generator settings (:data:`SETTINGS`).

    Example:
        >>> video = next(generate('val', 1))
        >>> video.frames.shape, video.gt.shape[1], int(video.gt[:, 1].max()) == len(video.labels)
        ((24, 96, 96), 8, True)
    """
    check_split(split)
    rules.Count(0).check('num_videos', num_videos)
    SETTINGS.check(dict(seed=seed, seq_len=seq_len, frame_size=frame_size,
                        digits_per_video=digits_per_video, digit_size=digit_size, speed=speed,
                        pass_fraction=pass_fraction, val_fraction=val_fraction))
    if sources is None:
        sources = _source_digits(val_fraction)
    for i in range(num_videos):
        rng = np.random.default_rng((seed, SPLITS.index(split), i, 7))
        yield _render_video(rng, sources, sources[split], seq_len, frame_size,
                            tuple(digits_per_video), tuple(digit_size),
                            (float(speed[0]), float(speed[1])), pass_fraction)


def _fold(u: np.ndarray, length) -> np.ndarray:
    """A coordinate moving freely along ``u``, reflected at ``0`` and ``length`` (> 0)."""
    u = np.mod(u, 2 * length)
    return np.where(u <= length, u, 2 * length - u)


def _trajectories(rng: np.random.Generator, shapes: list[tuple[int, int]], seq_len: int,
                  size: int, speed: tuple[float, float], pass_fraction: float) -> np.ndarray:
    """``N x T x 2`` top-left corners (x, y) of every digit in every frame (may be outside)."""
    t = np.arange(seq_len, dtype=np.float64)
    out = np.zeros((len(shapes), seq_len, 2))
    # the first two meet near (cx, cy) at frame tm, coming from different directions
    tm = rng.uniform(0.25, 0.75) * (seq_len - 1)
    meet = rng.uniform(0.35, 0.65, size=2) * size
    angle_first = 0.0
    for k, (h, w) in enumerate(shapes):
        free = np.array([size - w, size - h], np.float64)
        angle = rng.uniform(0, 2 * np.pi)
        v = rng.uniform(*speed) * np.array([np.cos(angle), np.sin(angle)])
        if k >= 2 and rng.random() < pass_fraction:
            # no reflection along its main axis: half of them enter through a border at a frame
            # in the first half, the others leave through one at a frame in the second half
            axis = int(np.argmax(np.abs(v)))
            if abs(v[axis]) < speed[0] * 0.7:
                v[axis] = np.sign(v[axis] or 1.0) * speed[0]
            extent = (w, h)[axis]
            p = np.empty(2)
            if rng.random() < 0.5:
                start = -extent if v[axis] > 0 else size
                p[axis] = start - v[axis] * rng.uniform(0, seq_len / 2)
            else:
                exit_at = size if v[axis] > 0 else -extent
                p[axis] = exit_at - v[axis] * rng.uniform(seq_len / 2, seq_len - 1)
            p[1 - axis] = rng.uniform(0, free[1 - axis])
            other = p[1 - axis] + v[1 - axis] * t
            out[k, :, axis] = p[axis] + v[axis] * t
            out[k, :, 1 - axis] = _fold(other, free[1 - axis])
            continue
        if k < 2:
            if k == 1:  # towards the first from another direction (90-270 degrees away)
                turn = angle_first + rng.uniform(0.5, 1.5) * np.pi
                v = np.linalg.norm(v) * np.array([np.cos(turn), np.sin(turn)])
            angle_first = angle
            offset = rng.uniform(-3, 3, size=2) - np.array([w, h]) / 2
            p0 = np.clip(meet + offset, 0, free) - v * tm
        else:
            p0 = rng.uniform(0, 1, size=2) * free
        out[k] = _fold(p0[None] + v[None] * t[:, None], free[None])
    return np.round(out).astype(np.int64)


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int
           ) -> Optional[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """The part of ``patch`` at top-left ``(x, y)`` inside ``canvas``: (cropped patch, box)."""
    h, w = patch.shape
    size_y, size_x = canvas.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, size_x), min(y + h, size_y)
    if x0 >= x1 or y0 >= y1:
        return None
    return patch[y0 - y:y1 - y, x0 - x:x1 - x], (x0, y0, x1, y1)


def _render_video(rng: np.random.Generator, sources: dict, pool: np.ndarray, seq_len: int,
                  size: int, count: tuple[int, int], digit_size: tuple[int, int],
                  speed: tuple[float, float], pass_fraction: float) -> Video:
    n = int(rng.integers(count[0], count[1] + 1))
    patches, labels, indices, intensities = [], [], [], []
    for _ in range(n):
        index = int(rng.choice(pool))
        height = int(rng.integers(digit_size[0], digit_size[1] + 1))
        width = max(4, int(round(height * rng.uniform(0.7, 1.0))))
        patches.append(_ink_patch(sources['images'][index], height, width))
        labels.append(int(sources['targets'][index]))
        indices.append(index)
        intensities.append(rng.uniform(0.7, 1.0))
    corners = _trajectories(rng, [p.shape for p in patches], seq_len, size, speed, pass_fraction)
    depth = rng.permutation(n)  # larger is nearer; nearer digits are drawn last

    # static background: a dim level and a linear brightness gradient
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    gx, gy = rng.uniform(-0.08, 0.08, size=2)
    background = np.clip(rng.uniform(0.02, 0.15) + gx * (xx - 0.5) + gy * (yy - 0.5), 0.0,
                         1.0).astype(np.float32)

    # static clutter, GAP pixels away from every box of every frame
    swept = np.zeros((size, size), bool)
    for k, patch in enumerate(patches):
        for x, y in corners[k]:
            x0, y0 = max(x - GAP, 0), max(y - GAP, 0)
            x1, y1 = min(x + patch.shape[1] + GAP, size), min(y + patch.shape[0] + GAP, size)
            if x0 < x1 and y0 < y1:
                swept[y0:y1, x0:x1] = True
    clutter = np.zeros((size, size), bool)
    for _ in range(int(rng.integers(2, 6))):
        patch = _clutter_patch(rng, sources, pool)
        h, w = patch.shape
        for _ in range(30):
            x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
            box = (x0, y0, x0 + w, y0 + h)
            if not swept[y0:y0 + h, x0:x0 + w].any() and patch.any():
                _blend(background, patch, box, rng.uniform(0.3, 0.8))
                clutter[y0:y0 + h, x0:x0 + w] |= patch > 0
                # the next clutter keeps GAP from this one too
                swept[max(y0 - GAP, 0):y0 + h + GAP, max(x0 - GAP, 0):x0 + w + GAP] = True
                break

    frames = np.zeros((seq_len, size, size), np.uint8)
    instances = np.zeros((seq_len, size, size), np.int16)
    full_ink = [int((p > 0).sum()) for p in patches]
    gt = []
    for t in range(seq_len):
        canvas = background.copy()
        inst = instances[t]
        for k in np.argsort(depth):
            placed = _paste(canvas, patches[k], *corners[k, t])
            if placed is None:
                continue
            patch, box = placed
            _blend(canvas, patch, box, intensities[k])
            x0, y0, x1, y1 = box
            inst[y0:y1, x0:x1][patch > 0] = k + 1
        for k in range(n):
            ys, xs = np.nonzero(inst == k + 1)
            visibility = len(ys) / full_ink[k]
            if visibility < MIN_VISIBILITY:
                continue
            gt.append((t, k + 1, xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, labels[k],
                       round(visibility, 4)))
        canvas += rng.normal(0.0, 0.02, size=canvas.shape).astype(np.float32)
        frames[t] = np.round(np.clip(canvas, 0.0, 1.0) * 255).astype(np.uint8)
    return Video(frames=frames, instances=instances, clutter=clutter,
                 labels=np.asarray(labels, np.int64), sources=np.asarray(indices, np.int64),
                 gt=np.asarray(gt, np.float64).reshape(-1, 8))


# ------------------------------------------------------------------------------------ files
def sequence_names(split: str, num_videos: int) -> list[str]:
    """Folder names of the sequences of a split: ``seq-0000`` ...; ``split`` is the parent."""
    return [f'seq-{i:04d}' for i in range(num_videos)]


def read_gt(path: str) -> np.ndarray:
    """A MOTChallenge ``gt.txt`` as an ``M x 9`` float array (frame is 1-based, as written)."""
    rows = np.loadtxt(path, delimiter=',', ndmin=2)
    return rows.reshape(-1, 9)


def _write_sequence(seq_dir: str, name: str, video: Video) -> None:
    from PIL import Image
    os.makedirs(osp.join(seq_dir, 'img1'))
    os.makedirs(osp.join(seq_dir, 'gt'))
    seq_len, h, w = video.frames.shape
    for t, frame in enumerate(video.frames):
        Image.fromarray(frame, mode='L').save(osp.join(seq_dir, 'img1', f'{t + 1:06d}.png'))
    with open(osp.join(seq_dir, 'gt', 'gt.txt'), 'w') as f:
        for t, tid, x0, y0, x1, y1, label, vis in video.gt:
            f.write(f'{int(t) + 1},{int(tid)},{int(x0)},{int(y0)},{int(x1 - x0)},{int(y1 - y0)},'
                    f'1,{int(label) + 1},{vis:.4f}\n')
    with open(osp.join(seq_dir, 'seqinfo.ini'), 'w') as f:
        f.write(f'[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={seq_len}\n'
                f'imWidth={w}\nimHeight={h}\nimExt=.png\n')


def _coco_video(split: str, videos: list[tuple[str, np.ndarray]], seq_len: int,
                size: int) -> dict:
    coco = dict(info=dict(description=f'digit tracks ({split}): moving scikit-learn handwritten '
                          'digits', version=SETTINGS.version),
                videos=[], images=[], annotations=[], categories=coco_categories())
    instance_base = 0
    for v, (name, gt) in enumerate(videos):
        coco['videos'].append(dict(id=v, name=name))
        for t in range(seq_len):
            coco['images'].append(dict(
                id=v * seq_len + t, video_id=v, frame_id=t, height=size, width=size,
                file_name=f'{split}/{name}/img1/{t + 1:06d}.png'))
        for t, tid, x0, y0, x1, y1, label, vis in gt:
            coco['annotations'].append(dict(
                id=len(coco['annotations']) + 1, image_id=v * seq_len + int(t), video_id=v,
                category_id=int(label) + 1, instance_id=instance_base + int(tid),
                track_id=int(tid), bbox=[int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                area=int((x1 - x0) * (y1 - y0)), iscrowd=0, visibility=float(vis)))
        instance_base += int(gt[:, 1].max()) if len(gt) else 0
    return coco


def prepare_digit_tracks(data_root: str = 'data/digit_tracks', **settings) -> str:
    """Write the digit tracking videos under ``data_root`` unless they are already there.

    Args:
        data_root: Folder of the sequences and annotations.
        **settings: Generator settings (:data:`SETTINGS`: ``seed``, ``num_train``, ``num_val``,
            ``seq_len``, ``frame_size``, ``digits_per_video``, ``digit_size``, ``speed``,
            ``pass_fraction``, ``val_fraction``). A folder prepared with other settings is an
            error.

    Returns:
        ``data_root``.

    Example:
        >>> root = prepare_digit_tracks('data/digit_tracks', num_train=2, num_val=1)
        >>> sorted(os.listdir(root)), os.listdir(f'{root}/val')
        (['annotations', 'digit_tracks.json', 'train', 'val'], ['seq-0000'])
    """
    settings = SETTINGS.resolve(settings)

    def write(tmp: str) -> None:
        sources = _source_digits(settings['val_fraction'])
        os.makedirs(osp.join(tmp, 'annotations'))
        for split in SPLITS:
            num = settings[f'num_{split}']
            names = sequence_names(split, num)
            gts = []
            for name, video in zip(names, generate(split, num, sources=sources,
                                                   **SETTINGS.generate_args(settings))):
                _write_sequence(osp.join(tmp, split, name), name, video)
                gts.append((name, video.gt))
            with open(osp.join(tmp, 'annotations', f'{split}.json'), 'w') as f:
                json.dump(_coco_video(split, gts, settings['seq_len'], settings['frame_size']),
                          f)

    prepare_folder(data_root, _MARKER, settings, write, what='digit tracks',
                   kind='digit tracks', maker='prepare_digit_tracks')
    return data_root


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    """``python -m mmbackbones.demos.datasets tracks [DATA_ROOT] [--SETTING VALUE ...]``, every
    setting of :data:`SETTINGS`."""
    return SETTINGS.main(prepare_digit_tracks, argv, prog)
