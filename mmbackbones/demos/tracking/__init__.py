"""Detect-and-Track on the digit videos: a tracker, MOT metrics and (with mmdet) a clip detector.

* :mod:`.tracker`: :class:`IoUTracker`, Hungarian matching of per-frame detections on box IoU.
* :mod:`.metrics`: :func:`mot_metrics`, MOTA/IDF1 (motmetrics) and HOTA (trackeval), imported
  when called.
* With mmdetection (``bash tools/install.sh --with-tracking``): :mod:`.clip_data` (the videos cut
  into clips of T frames), :mod:`.clip_detector` (a detector whose backbone sees the clip) and
  :mod:`.evaluation` (the MOT metric and the tracked-frames drawing for ``tools/test.py``).
"""
from ..available import HAS_MMDET
from .metrics import mot_metrics
from .tracker import Frame, IoUTracker, box_iou

__all__ = ['Frame', 'IoUTracker', 'box_iou', 'mot_metrics']

if HAS_MMDET:
    from .clip_data import DigitTrackClipDataset  # noqa: F401
    from .clip_detector import ClipDetector  # noqa: F401
    from .evaluation import DumpFrameResults, FrameCocoMetric, MOTMetric, TrackPlotHook  # noqa: F401
    __all__ += ['ClipDetector', 'DigitTrackClipDataset', 'DumpFrameResults', 'FrameCocoMetric',
                'MOTMetric', 'TrackPlotHook']
