"""Detect-and-Track on the digit videos: a tracker, MOT metrics and (with mmdet) a clip detector.

* :mod:`.tracker`: :class:`IoUTracker`, Hungarian matching of per-frame detections on box IoU.
* :mod:`.metrics`: :func:`mot_metrics`, MOTA/IDF1 (motmetrics) and HOTA (trackeval).
* With mmdetection (``bash tools/install.sh --with-tracking``): :mod:`.clip_data` (the videos cut
  into clips of T frames), :mod:`.clip_detector` (a detector whose backbone sees the clip) and
  :mod:`.evaluation` (the MOT metric and the tracked-frames drawing for ``tools/test.py``).
"""
from .tracker import Frame, IoUTracker, box_iou

__all__ = ['Frame', 'IoUTracker', 'box_iou', 'mot_metrics']


def _mmdet_usable() -> bool:
    import importlib.util
    if importlib.util.find_spec('mmdet') is None:
        return False
    try:  # mmdet needs full mmcv (compiled ops), not mmcv-lite
        import mmcv.ops  # noqa: F401
        return True
    except (ImportError, OSError):
        return False


if _mmdet_usable():
    from .clip_data import DigitTrackClipDataset  # noqa: F401
    from .clip_detector import ClipDetector  # noqa: F401
    from .evaluation import DumpFrameResults, FrameCocoMetric, MOTMetric, TrackPlotHook  # noqa: F401
    __all__ += ['ClipDetector', 'DigitTrackClipDataset', 'DumpFrameResults', 'FrameCocoMetric',
                'MOTMetric', 'TrackPlotHook']


def mot_metrics(*args, **kwargs):  # noqa: D103  (imports motmetrics/trackeval on first use)
    from .metrics import mot_metrics as impl
    return impl(*args, **kwargs)


mot_metrics.__doc__ = 'See :func:`mmbackbones.tracking.metrics.mot_metrics`.'
