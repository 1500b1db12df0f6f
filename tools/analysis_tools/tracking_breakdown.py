#!/usr/bin/env python
"""Where does a clip backbone help? Per-frame recall of digit-track detectors, split by situation.

    python tools/test.py configs/mmdet/tracking/retinanet_r3d18_fpn_digit-tracks.py CKPT_3D \
        --out work_dirs/preds_3d.pkl
    python tools/test.py configs/mmdet/tracking/retinanet_r18_fpn_digit-tracks.py CKPT_2D \
        --out work_dirs/preds_2d.pkl
    python tools/analysis_tools/tracking_breakdown.py 3D=work_dirs/preds_3d.pkl \
        2D=work_dirs/preds_2d.pkl

Reads the predictions ``tools/test.py --out`` dumps and the val videos' MOTChallenge ground truth
(``gt/gt.txt``, whose last column is the visible fraction of the digit's ink). Every ground-truth
box falls in one situation:

* ``clear``: all of its ink visible, no other digit's box touching it;
* ``crossing``: another digit's box overlaps it, all of its own ink still visible;
* ``occluded``: part of its ink hidden by a nearer digit (not at the frame border);
* ``border``: part of it outside the frame (entering or leaving).

A box is found when a detection of its class with a score of at least ``--score-thr`` (the
tracker's threshold in the configs) overlaps it with IoU >= ``--iou-thr``; detections are matched
greedily by score, each to one box. The table prints the recall per situation and the precision
over all detections above the threshold, one column per predictions file. A measurement, not a
test.
"""
from __future__ import annotations

import argparse
import os.path as osp
import pickle
import sys
from collections import defaultdict

import numpy as np

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

SITUATIONS = ('clear', 'crossing', 'occluded', 'border')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('predictions', nargs='+', metavar='NAME=PKL',
                        help='a column name and a predictions file of tools/test.py --out')
    parser.add_argument('--score-thr', type=float, default=0.4,
                        help='detections below this score are dropped (the tracker\'s)')
    parser.add_argument('--iou-thr', type=float, default=0.5)
    args = parser.parse_args(argv)
    columns = []
    for item in args.predictions:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            parser.error(f'predictions: {item!r} is not NAME=PKL')
        if not osp.isfile(path):
            parser.error(f'predictions: {path!r} (of {name!r}) is not a file')
        columns.append((name, path))
    args.columns = columns
    return args


def _overlaps(boxes: np.ndarray) -> np.ndarray:
    """``N`` bools: the box's area meets another box of the frame."""
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    iw = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    ih = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    meet = (iw > 0) & (ih > 0)
    np.fill_diagonal(meet, False)
    return meet.any(1)


def situations(gt_rows: np.ndarray, width: int, height: int) -> list[str]:
    """The situation of every row of one frame's ``gt.txt`` rows (``frame,id,x,y,w,h,1,cls,vis``;
    ``x, y`` the top-left pixel, ``w, h`` in pixels)."""
    boxes = np.stack([gt_rows[:, 2], gt_rows[:, 3], gt_rows[:, 2] + gt_rows[:, 4],
                      gt_rows[:, 3] + gt_rows[:, 5]], 1)
    overlap = _overlaps(boxes)
    out = []
    for (x0, y0, x1, y1), vis, meets in zip(boxes, gt_rows[:, 8], overlap):
        at_border = x0 <= 0 or y0 <= 0 or x1 >= width or y1 >= height
        if vis < 1.0 and at_border:
            out.append('border')
        elif vis < 1.0:
            out.append('occluded')
        elif meets:
            out.append('crossing')
        else:
            out.append('clear')
    return out


def match(gt_boxes: np.ndarray, gt_labels: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
          labels: np.ndarray, iou_thr: float) -> tuple[np.ndarray, int]:
    """``(found per ground-truth box, number of detections matched)``: greedy by score."""
    from mmbackbones.demos.tracking.tracker import box_iou
    found = np.zeros(len(gt_boxes), bool)
    if len(boxes) == 0 or len(gt_boxes) == 0:
        return found, 0
    iou = box_iou(boxes, gt_boxes)
    matched = 0
    for d in np.argsort(-scores, kind='stable'):
        cand = np.where(~found & (gt_labels == labels[d]) & (iou[d] >= iou_thr))[0]
        if len(cand):
            found[cand[np.argmax(iou[d, cand])]] = True
            matched += 1
    return found, matched


def breakdown(path: str, score_thr: float, iou_thr: float) -> dict:
    """``dict(situation -> (found, total), 'precision' -> (matched, detections))``."""
    from PIL import Image

    from mmbackbones.demos.datasets.digit_tracks import read_gt
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    gts: dict[str, np.ndarray] = {}
    counts = defaultdict(lambda: [0, 0])
    for sample in samples:
        img = sample['img_path']
        seq = osp.dirname(osp.dirname(img))
        if seq not in gts:
            gts[seq] = read_gt(osp.join(seq, 'gt', 'gt.txt'))
        frame = int(osp.splitext(osp.basename(img))[0])
        rows = gts[seq][gts[seq][:, 0] == frame]
        width, height = Image.open(img).size
        pred = sample['pred_instances']
        keep = np.asarray(pred['scores']) >= score_thr
        boxes = np.asarray(pred['bboxes'], np.float64)[keep].reshape(-1, 4)
        scores = np.asarray(pred['scores'], np.float64)[keep]
        labels = np.asarray(pred['labels'], np.int64)[keep]
        gt_boxes = np.stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4],
                             rows[:, 3] + rows[:, 5]], 1).reshape(-1, 4)
        found, matched = match(gt_boxes, rows[:, 7].astype(np.int64) - 1, boxes, scores, labels,
                               iou_thr)
        for situation, hit in zip(situations(rows, width, height), found):
            counts[situation][0] += int(hit)
            counts[situation][1] += 1
            counts['all'][0] += int(hit)
            counts['all'][1] += 1
        counts['precision'][0] += matched
        counts['precision'][1] += len(boxes)
    return {k: tuple(v) for k, v in counts.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    results = [(name, breakdown(path, args.score_thr, args.iou_thr))
               for name, path in args.columns]
    print(f'score >= {args.score_thr}, IoU >= {args.iou_thr}, class must match')
    print('| situation | boxes | ' + ' | '.join(f'recall, {name}' for name, _ in results) + ' |')
    print('|---|---|' + '---|' * len(results))
    for situation in ('all', ) + SITUATIONS:
        total = results[0][1].get(situation, (0, 0))[1]
        cells = []
        for _, counts in results:
            found, n = counts.get(situation, (0, 0))
            cells.append(f'{found / n:.3f}' if n else '-')
        print(f'| {situation} | {total} | ' + ' | '.join(cells) + ' |')
    cells = []
    for _, counts in results:
        matched, n = counts.get('precision', (0, 0))
        cells.append(f'{matched / n:.3f} of {n}' if n else '-')
    print('| precision (detections) | | ' + ' | '.join(cells) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
