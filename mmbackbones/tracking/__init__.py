"""Detect-and-Track on the digit videos: a tracker, MOT metrics and (with mmdet) a clip detector.

* :mod:`.tracker`: :class:`IoUTracker`, Hungarian matching of per-frame detections on box IoU.
* :mod:`.metrics`: :func:`mot_metrics`, MOTA/IDF1 (motmetrics) and HOTA (trackeval).
* With mmdetection (``bash tools/install.sh --with-tracking``): :mod:`.clip_data` (the videos cut
  into clips of T frames), :mod:`.clip_detector` (a detector whose backbone sees the clip) and
  :mod:`.evaluation` (the MOT metric and the tracked-frames drawing for ``tools/test.py``).
"""
from .tracker import Frame, IoUTracker, box_iou

__all__ = ['Frame', 'IoUTracker', 'box_iou', 'mot_metrics']


def mot_metrics(*args, **kwargs):  # noqa: D103  (imports motmetrics/trackeval on first use)
    from .metrics import mot_metrics as impl
    return impl(*args, **kwargs)


mot_metrics.__doc__ = 'See :func:`mmbackbones.tracking.metrics.mot_metrics`.'
