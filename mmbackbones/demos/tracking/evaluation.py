"""Tracking evaluation for ``tools/test.py``: per-frame COCO mAP, MOT metrics, tracked frames.

A clip dataset has fewer items (clips) than frames, and mmengine's ``BaseMetric.evaluate`` keeps
only as many results as the dataset has items; both metrics here therefore collect their results
as mmdet's video metrics do (``BaseVideoMetric``: every result, from every rank).

* :class:`FrameCocoMetric`: mmdet's ``CocoMetric`` (same arguments and ``coco/bbox_mAP...``
  output) over every frame of the clips.
* :class:`MOTMetric` collects the per-frame detections, links them into tracks with
  :class:`~.tracker.IoUTracker` (its thresholds from the config) and scores the tracks with
  :func:`~.metrics.mot_metrics` (MOTA, IDF1 from motmetrics; HOTA from trackeval)::

    val_evaluator = [dict(type='FrameCocoMetric', ann_file=..., metric='bbox'),
                     dict(type='MOTMetric', tracker=dict(score_thr=0.4, iou_thr=0.3))]

:class:`TrackPlotHook` (mmdet's ``HOOKS``) draws a few tracked frames of the last evaluation,
boxes coloured by track id, as one PNG in the work dir (``val_tracks.png``/``test_tracks.png``,
written atomically).
"""
from __future__ import annotations

import os.path as osp
from collections import defaultdict
from typing import Optional, Sequence

import numpy as np
from mmdet.evaluation.metrics import BaseVideoMetric, CocoMetric, CocoVideoMetric
from mmdet.registry import HOOKS, METRICS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ...utils.fileio import atomic_write_path, write_bytes_atomic
from .metrics import mot_metrics
from .tracker import Frame, IoUTracker


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


@METRICS.register_module()
class FrameCocoMetric(CocoVideoMetric):
    """mmdet's ``CocoMetric`` over the frames a clip detector predicts (one ``DetDataSample`` per
    frame), collected as mmdet's ``CocoVideoMetric`` collects them; arguments are CocoMetric's.

    Example:
        >>> val_evaluator = dict(type='FrameCocoMetric', ann_file='data/digit_tracks/'
        ...                      'annotations/val.json', metric='bbox')
    """

    process = CocoMetric.process


@METRICS.register_module()
class MOTMetric(BaseVideoMetric):
    """MOTA, IDF1, HOTA (and MOTP, DetA, AssA, IDSW, FP, FN) of the tracked detections.

    Args:
        tracker: Arguments of :class:`~.tracker.IoUTracker` (``score_thr``, ``iou_thr``,
            ``max_age``, ``min_length``, ``nms_iou_thr``, ``motion``, ``class_aware``).
        iou_thr: Overlap a tracked box needs to match a ground-truth box (CLEAR MOT, IDF1).
        collect_device: ``'cpu'`` or ``'gpu'`` (mmengine).
        prefix: Prefix of the metric names; default ``'mot'`` (``mot/MOTA``).

    Example:
        >>> val_evaluator = dict(type='MOTMetric', tracker=dict(score_thr=0.4, max_age=2))
    """

    default_prefix = 'mot'

    def __init__(self, tracker: Optional[dict] = None, iou_thr: float = 0.5,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if tracker is not None and not isinstance(tracker, dict):
            raise TypeError(f'tracker={tracker!r} must be a dict of IoUTracker arguments.')
        self.tracker = IoUTracker(**(tracker or {}))
        self.iou_thr = iou_thr
        #: ``{video_id: dict(paths, gt, tracks)}`` of the last evaluation (for the drawing).
        self.last_tracks: dict = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            for key in ('video_id', 'frame_id', 'pred_instances', 'gt_instances'):
                if key not in sample:
                    raise KeyError(f'MOTMetric needs {key!r} in every data sample (a clip '
                                   'dataset such as DigitTrackClipDataset); got '
                                   f'{sorted(sample)}.')
            pred, gt = sample['pred_instances'], sample['gt_instances']
            self.results.append(dict(
                video_id=int(sample['video_id']), frame_id=int(sample['frame_id']),
                img_path=sample.get('img_path'),
                pred=(_numpy(pred['bboxes']), _numpy(pred['scores']), _numpy(pred['labels'])),
                gt=(_numpy(gt['bboxes']), _numpy(gt['labels']), _numpy(gt['instances_ids']))))

    def compute_metrics(self, results: list) -> dict:
        videos = defaultdict(dict)
        for r in results:  # a frame seen twice (padded distributed batches) counts once
            videos[r['video_id']][r['frame_id']] = r
        gts, tracks, self.last_tracks = [], [], {}
        for video_id in sorted(videos):
            frames = [videos[video_id][t] for t in sorted(videos[video_id])]
            gt = [Frame(b, np.ones(len(b)), labels, ids) for b, labels, ids in
                  (fr['gt'] for fr in frames)]
            tracked = self.tracker.track_video([Frame(*fr['pred']) for fr in frames])
            gts.append(gt)
            tracks.append(tracked)
            self.last_tracks[video_id] = dict(paths=[fr['img_path'] for fr in frames], gt=gt,
                                              tracks=tracked)
        return mot_metrics(gts, tracks, iou_thr=self.iou_thr)


@METRICS.register_module()
class DumpFrameResults(BaseVideoMetric):
    """mmengine's ``DumpResults`` for clip datasets: every frame's prediction, not only as many
    as the dataset has clips (mmengine's ``BaseMetric.evaluate`` cuts its results to the number
    of dataset items). ``tools/test.py --out`` uses it for configs with a clip metric; written
    atomically.

    Args:
        out_file_path: The ``.pkl``/``.pickle`` file.
        collect_device: ``'cpu'`` or ``'gpu'`` (mmengine).
    """

    def __init__(self, out_file_path: str, collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        if not str(out_file_path).endswith(('.pkl', '.pickle')):
            raise ValueError(f'out_file_path={out_file_path!r} must end with .pkl or .pickle.')
        self.out_file_path = str(out_file_path)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        from mmengine.evaluator.metric import _to_cpu
        self.results.extend(_to_cpu(list(data_samples)))

    def compute_metrics(self, results: list) -> dict:
        import pickle

        from mmengine.logging import print_log

        write_bytes_atomic(self.out_file_path, pickle.dumps(results))
        print_log(f'{len(results)} frame predictions saved to {self.out_file_path}.',
                  logger='current')
        return {}


# 20 distinct colours (matplotlib's tab20), indexed by track id
_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
            (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
            (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229)]


def draw_tracks(paths: Sequence[str], tracks: Sequence[Frame], num_frames: int = 8,
                scale: int = 3) -> np.ndarray:
    """One row of ``num_frames`` frames spread over a video, tracked boxes coloured by id.

    Returns:
        ``H x W x 3`` uint8 RGB image.
    """
    from PIL import Image, ImageDraw
    picks = np.unique(np.linspace(0, len(paths) - 1, num_frames).round().astype(int))
    tiles = []
    for t in picks:
        img = Image.open(paths[t]).convert('RGB')
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        draw = ImageDraw.Draw(img)
        for box, tid, label in zip(tracks[t].bboxes, tracks[t].ids, tracks[t].labels):
            colour = _COLOURS[(int(tid) - 1) % len(_COLOURS)]
            draw.rectangle([float(v) * scale for v in box], outline=colour, width=2)
            draw.text((box[0] * scale + 2, box[1] * scale + 1), f'{tid}:{label}', fill=colour)
        draw.text((3, 3), f'frame {t + 1}', fill=(255, 255, 255))
        tiles.append(np.asarray(img))
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([x for tile in tiles for x in (tile, gap)][:-1], axis=1)


@HOOKS.register_module()
class TrackPlotHook(Hook):
    """Draw the tracks of the last evaluation's first ``num_videos`` videos as one PNG.

    Each row is one video: ``num_frames`` frames spread over it, each box coloured by its track
    id and labelled ``id:class``. Written to ``val_tracks.png`` / ``test_tracks.png`` in
    ``out_dir`` (the run's work dir when None), atomically.

    Args:
        num_videos: Videos drawn.
        num_frames: Frames per video.
        scale: Enlargement of the frames.
        out_dir: Folder of the PNG; the work dir when None.

    Example:
        >>> custom_hooks = [dict(type='TrackPlotHook', num_videos=3, num_frames=8)]
    """

    priority = 'LOW'

    def __init__(self, num_videos: int = 3, num_frames: int = 8, scale: int = 3,
                 out_dir: Optional[str] = None) -> None:
        for name, value in (('num_videos', num_videos), ('num_frames', num_frames),
                            ('scale', scale)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}={value!r} must be a positive int.')
        self.num_videos = num_videos
        self.num_frames = num_frames
        self.scale = scale
        self.out_dir = out_dir

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._save(runner, runner.val_evaluator, 'val_tracks.png')

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._save(runner, runner.test_evaluator, 'test_tracks.png')

    def _save(self, runner, evaluator, filename: str) -> None:
        if not is_main_process():
            return
        found = [m for m in evaluator.metrics if isinstance(m, MOTMetric) and m.last_tracks]
        if not found:
            return
        from PIL import Image

        videos = found[0].last_tracks
        rows = [draw_tracks(videos[v]['paths'], videos[v]['tracks'], self.num_frames, self.scale)
                for v in sorted(videos)[:self.num_videos]]
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                for r in rows]
        path = osp.join(self.out_dir or runner.work_dir, filename)
        with atomic_write_path(path, keep_ext=True) as tmp:
            Image.fromarray(np.concatenate(rows, axis=0)).save(tmp)
