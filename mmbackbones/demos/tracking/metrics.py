"""MOT metrics of tracked boxes against ground truth, from maintained libraries.

MOTA, MOTP, IDF1 and the error counts come from `py-motmetrics
<https://github.com/cheind/py-motmetrics>`_ (``motmetrics``), HOTA (with DetA and AssA) from
`TrackEval <https://github.com/JonathonLuiten/TrackEval>`_ (``trackeval``), the code behind the
MOTChallenge leaderboards. Only the per-frame IoU matrices are ours (:func:`~.tracker.box_iou`):
``motmetrics.distances.iou_matrix`` calls ``np.asfarray``, which numpy 2 removed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .tracker import Frame, box_iou

#: The metrics :func:`mot_metrics` returns (fractions, except the counts).
METRIC_NAMES = ('MOTA', 'MOTP', 'IDF1', 'HOTA', 'DetA', 'AssA', 'IDSW', 'FP', 'FN', 'GT')


def mot_metrics(gt: Sequence[Sequence[Frame]], pred: Sequence[Sequence[Frame]],
                iou_thr: float = 0.5) -> dict[str, float]:
    """MOTA/MOTP/IDF1 (motmetrics, matched at ``IoU >= iou_thr``) and HOTA (trackeval) over
    videos.

    Args:
        gt: Per video, per frame, the ground-truth boxes with their track ids.
        pred: Per video, per frame, the tracked boxes with their ids (same frame counts).
        iou_thr: Overlap a box needs to match the ground truth in CLEAR MOT and IDF1 (0.5 as in
            MOTChallenge); HOTA averages over 0.05-0.95 itself.

    Returns:
        ``{name: value}`` for :data:`METRIC_NAMES`; MOTP is the mean IoU of the matches (1 is
        perfect, unlike motmetrics' distance).

    Example:
        >>> video = [Frame([[0, 0, 10, 10]], [1.0], [0], [1])] * 3
        >>> m = mot_metrics([video], [video])
        >>> m['MOTA'], m['IDF1'], round(m['HOTA'], 6)
        (1.0, 1.0, 1.0)
    """
    import motmetrics as mm
    from trackeval.metrics import HOTA
    if len(gt) != len(pred):
        raise ValueError(f'gt has {len(gt)} videos and pred {len(pred)}; they must match.')
    if not 0.0 < iou_thr <= 1.0:
        raise ValueError(f'iou_thr={iou_thr!r} must be in (0, 1].')
    hota = HOTA()
    # one accumulator over all videos, ids offset per video: motmetrics' per-video
    # OVERALL row would weight MOTP by matches and turn nan for a video without any, and its
    # merge_event_dataframes needs pandas < 2
    acc = mm.MOTAccumulator(auto_id=True)
    hota_results = {}
    for v, (gt_video, pred_video) in enumerate(zip(gt, pred)):
        offset = v * 10**9  # motmetrics needs numeric ids
        if len(gt_video) != len(pred_video):
            raise ValueError(f'video {v}: {len(gt_video)} ground-truth frames and '
                             f'{len(pred_video)} predicted frames; they must match.')
        for g, p in zip(gt_video, pred_video):
            iou = box_iou(g.bboxes, p.bboxes)
            acc.update((g.ids + offset).tolist(), (p.ids + offset).tolist(),
                       np.where(iou >= iou_thr, 1.0 - iou, np.nan))
        hota_results[v] = hota.eval_sequence(_trackeval_data(gt_video, pred_video))
    overall = mm.metrics.create().compute(
        acc, name='all', metrics=['mota', 'motp', 'idf1', 'num_switches', 'num_false_positives',
                                  'num_misses', 'num_objects']).loc['all']
    combined = hota.combine_sequences(hota_results)
    motp = float(overall['motp'])
    return dict(MOTA=float(overall['mota']), MOTP=1.0 - motp if np.isfinite(motp) else 0.0,
                IDF1=float(overall['idf1']), HOTA=float(np.mean(combined['HOTA'])),
                DetA=float(np.mean(combined['DetA'])), AssA=float(np.mean(combined['AssA'])),
                IDSW=int(overall['num_switches']), FP=int(overall['num_false_positives']),
                FN=int(overall['num_misses']), GT=int(overall['num_objects']))


def _trackeval_data(gt: Sequence[Frame], pred: Sequence[Frame]) -> dict:
    """One sequence in trackeval's format: ids renumbered 0..n-1, IoU per frame."""
    gt_uniq = np.unique(np.concatenate([f.ids for f in gt] or [np.zeros(0, np.int64)]))
    pr_uniq = np.unique(np.concatenate([f.ids for f in pred] or [np.zeros(0, np.int64)]))
    return dict(
        num_timesteps=len(gt), num_gt_ids=len(gt_uniq), num_tracker_ids=len(pr_uniq),
        num_gt_dets=sum(len(f.ids) for f in gt), num_tracker_dets=sum(len(f.ids) for f in pred),
        gt_ids=[np.searchsorted(gt_uniq, f.ids) for f in gt],
        tracker_ids=[np.searchsorted(pr_uniq, f.ids) for f in pred],
        similarity_scores=[box_iou(g.bboxes, p.bboxes) for g, p in zip(gt, pred)])
