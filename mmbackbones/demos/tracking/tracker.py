"""Linking per-frame detections into tracks by Hungarian matching on box IoU (Detect-and-Track).

Detect-and-Track (`Girdhar et al., CVPR 2018 <https://arxiv.org/abs/1712.09184>`_) detects the
objects of every frame of a clip and links the detections of consecutive frames by bipartite
matching, the cost being one minus the overlap of the boxes. :class:`IoUTracker` does that for
a whole video, frame after frame, so the links across the borders of the clips a clip detector
ran on are made exactly as those inside a clip. What it adds to the paper's plain matching, each
switchable from the config:

* ``score_thr`` and class-agnostic NMS (``nms_iou_thr``) on the detections of each frame, so one
  digit scored as two classes makes one track, not two.
* ``max_age``: a track missed for up to that many frames is kept and matched again (a detector
  miss or a short occlusion does not cut it in two); ``motion``: its box is extrapolated with its
  last velocity meanwhile and for matching.
* ``min_length``: tracks shorter than that (mostly false positives) are dropped at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (``N x 4``, ``x0, y0, x1, y1``) with every box of ``b``.

    Example:
        >>> box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10]]))
        array([[1.        , 0.33333333]])
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class Frame:
    """Boxes of one frame: detections (``ids`` all -1) or tracked boxes.

    Attributes:
        bboxes: ``N x 4`` float ``x0, y0, x1, y1``.
        scores: ``N`` scores (1 for ground truth).
        labels: ``N`` class indices.
        ids: ``N`` track ids (>= 1), -1 where none.
    """

    bboxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    ids: np.ndarray = field(default=None)

    def __post_init__(self) -> None:
        self.bboxes = np.asarray(self.bboxes, np.float64).reshape(-1, 4)
        n = len(self.bboxes)
        self.scores = np.asarray(self.scores, np.float64).reshape(-1)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        self.ids = (np.full(n, -1, np.int64) if self.ids is None
                    else np.asarray(self.ids, np.int64).reshape(-1))
        if not len(self.scores) == len(self.labels) == len(self.ids) == n:
            raise ValueError(f'a Frame needs as many scores ({len(self.scores)}), labels '
                             f'({len(self.labels)}) and ids ({len(self.ids)}) as bboxes ({n}).')

    def select(self, keep: np.ndarray) -> Frame:
        return Frame(self.bboxes[keep], self.scores[keep], self.labels[keep], self.ids[keep])


@dataclass
class _Track:
    id: int
    box: np.ndarray
    label: int
    last_frame: int
    velocity: np.ndarray
    length: int = 1

    def predict(self, frame: int, motion: bool) -> np.ndarray:
        return self.box + self.velocity * (frame - self.last_frame) if motion else self.box


class IoUTracker:
    """Links detections frame by frame: Hungarian matching on ``1 - IoU``.

    Args:
        score_thr: Detections below this score are ignored.
        iou_thr: A detection continues a track only when their boxes overlap at least this much
            (the track's box extrapolated to this frame when ``motion``).
        max_age: Frames a track may go unmatched and still be continued (0: one miss ends it).
        min_length: Tracks matched in fewer frames are dropped from the result.
        nms_iou_thr: Class-agnostic NMS on the kept detections of each frame; None: off.
        motion: Predict a missed or moving track's box with its last velocity.
        class_aware: Only link detections of the track's class.

    Example:
        >>> tracker = IoUTracker(score_thr=0.5, iou_thr=0.3, max_age=1, min_length=1)
        >>> frames = [Frame([[0, 0, 10, 10]], [0.9], [3]), Frame([[1, 0, 11, 10]], [0.8], [3])]
        >>> [f.ids.tolist() for f in tracker.track_video(frames)]
        [[1], [1]]
    """

    def __init__(self, score_thr: float = 0.5, iou_thr: float = 0.3, max_age: int = 2,
                 min_length: int = 3, nms_iou_thr: Optional[float] = 0.7, motion: bool = True,
                 class_aware: bool = False) -> None:
        for name, value in (('score_thr', score_thr), ('iou_thr', iou_thr)):
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f'{name}={value!r} must be a number in [0, 1].')
        if nms_iou_thr is not None and not 0.0 < nms_iou_thr <= 1.0:
            raise ValueError(f'nms_iou_thr={nms_iou_thr!r} must be in (0, 1] or None.')
        for name, value, low in (('max_age', max_age, 0), ('min_length', min_length, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f'{name}={value!r} must be an int >= {low}.')
        self.score_thr = float(score_thr)
        self.iou_thr = float(iou_thr)
        self.max_age = max_age
        self.min_length = min_length
        self.nms_iou_thr = nms_iou_thr
        self.motion = motion
        self.class_aware = class_aware

    def _filter(self, dets: Frame) -> Frame:
        dets = dets.select(dets.scores >= self.score_thr)
        if self.nms_iou_thr is None or len(dets.scores) < 2:
            return dets
        import torch
        from torchvision.ops import nms
        keep = nms(torch.as_tensor(dets.bboxes, dtype=torch.float32),
                   torch.as_tensor(dets.scores, dtype=torch.float32), self.nms_iou_thr)
        return dets.select(np.sort(keep.numpy()))

    def track_video(self, frames: Sequence[Frame]) -> list[Frame]:
        """Track one video: its frames' detections in order; returns the tracked boxes.

        Each returned frame holds the detections that joined a track of at least
        ``min_length`` matches, with its id (1, 2, ... in order of appearance).
        """
        from scipy.optimize import linear_sum_assignment
        active: list[_Track] = []
        out, next_id = [], 1
        for t, dets in enumerate(frames):
            if not isinstance(dets, Frame):
                raise TypeError(f'frames[{t}] is a {type(dets).__name__}; expected a Frame.')
            dets = self._filter(dets)
            ids = np.full(len(dets.scores), -1, np.int64)
            if active and len(ids):
                pred = np.stack([tr.predict(t, self.motion) for tr in active])
                iou = box_iou(pred, dets.bboxes)
                if self.class_aware:
                    same = np.array([tr.label for tr in active])[:, None] == dets.labels[None]
                    iou = np.where(same, iou, 0.0)
                rows, cols = linear_sum_assignment(1.0 - iou)
                for r, c in zip(rows, cols):
                    if iou[r, c] < self.iou_thr:
                        continue
                    tr = active[r]
                    if self.motion:
                        tr.velocity = (dets.bboxes[c] - tr.box) / (t - tr.last_frame)
                    tr.box, tr.label, tr.last_frame = dets.bboxes[c], int(dets.labels[c]), t
                    tr.length += 1
                    ids[c] = tr.id
            for c in np.flatnonzero(ids < 0):
                active.append(_Track(next_id, dets.bboxes[c], int(dets.labels[c]), t,
                                     np.zeros(4)))
                ids[c] = next_id
                next_id += 1
            active = [tr for tr in active if t - tr.last_frame <= self.max_age]
            out.append(Frame(dets.bboxes, dets.scores, dets.labels, ids))
        return self._drop_short(out)

    def _drop_short(self, frames: list[Frame]) -> list[Frame]:
        ids = np.concatenate([f.ids for f in frames]) if frames else np.zeros(0, np.int64)
        uniq, counts = np.unique(ids, return_counts=True)
        kept = uniq[counts >= self.min_length]
        renumber = {int(old): new for new, old in enumerate(kept, start=1)}
        result = []
        for f in frames:
            f = f.select(np.isin(f.ids, kept))
            f.ids = np.array([renumber[int(i)] for i in f.ids], np.int64)
            result.append(f)
        return result
