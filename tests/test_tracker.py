"""The IoU tracker on hand-made detections, and the MOT metrics of the maintained libraries.

Needs scipy, motmetrics and trackeval (`bash tools/install.sh --with-tracking`); skips with that
reason without them.
"""
from __future__ import annotations

import numpy as np
import pytest

from mmbackbones.demos.tracking import Frame, IoUTracker, box_iou, mot_metrics

from conftest import why_no_tracking

pytestmark = pytest.mark.skipif(why_no_tracking() is not None, reason=str(why_no_tracking()))


def _box(x, y, w=10, h=14):
    return [x, y, x + w, y + h]


def _video(tracks: dict, num_frames: int, score=0.9):
    """``{id: {frame: (x, y)}}`` as Frames with the ground-truth ids."""
    frames = []
    for t in range(num_frames):
        ids = [i for i in sorted(tracks) if t in tracks[i]]
        frames.append(Frame([_box(*tracks[i][t]) for i in ids], [score] * len(ids),
                            [i % 10 for i in ids], ids))
    return frames


def _detections(video):
    return [Frame(f.bboxes, f.scores, f.labels) for f in video]


def _same_partition(pred, gt):
    """Every predicted id follows exactly one ground-truth id and the other way round."""
    pairs = set()
    for p, g in zip(pred, gt):
        assert len(p.ids) == len(g.ids)
        iou = box_iou(p.bboxes, g.bboxes)
        for i, j in enumerate(iou.argmax(1)):
            assert iou[i, j] > 0.99
            pairs.add((int(p.ids[i]), int(g.ids[j])))
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})


def test_crossing_objects_keep_their_ids():
    # two digits crossing each other diagonally, overlapping at frames 4-6
    gt = _video({1: {t: (2 + 3 * t, 2 + 3 * t) for t in range(11)},
                 2: {t: (32 - 3 * t, 4 + 3 * t) for t in range(11)}}, 11)
    assert box_iou(gt[5].bboxes[:1], gt[5].bboxes[1:])[0, 0] > 0.3
    tracker = IoUTracker(score_thr=0.5, iou_thr=0.2, max_age=1, min_length=1, nms_iou_thr=None)
    _same_partition(tracker.track_video(_detections(gt)), gt)


def test_a_missed_frame_is_bridged_within_max_age():
    track = {t: (10 + 2 * t, 20) for t in range(8) if t != 3}
    gt = _video({1: track}, 8)
    out = IoUTracker(max_age=1, min_length=1).track_video(_detections(gt))
    assert [f.ids.tolist() for f in out] == [[1]] * 3 + [[]] + [[1]] * 4
    out = IoUTracker(max_age=0, min_length=1).track_video(_detections(gt))
    assert [f.ids.tolist() for f in out] == [[1]] * 3 + [[]] + [[2]] * 4


def test_entering_and_leaving_objects_start_and_end_tracks():
    gt = _video({1: {t: (5, 5 + t) for t in range(10)},
                 2: {t: (40, 40 + t) for t in range(4)},  # leaves after frame 3
                 3: {t: (70, 10) for t in range(6, 10)}}, 10)  # enters at frame 6
    out = IoUTracker(max_age=2, min_length=1).track_video(_detections(gt))
    assert [f.ids.tolist() for f in out] == [[1, 2]] * 4 + [[1]] * 2 + [[1, 3]] * 4


def test_thresholds_drop_low_scores_duplicates_and_short_tracks():
    frames = [Frame([_box(5, 5), _box(6, 5), _box(50, 50)], [0.9, 0.6, 0.2], [1, 7, 3])
              for _ in range(5)]
    frames.append(Frame([_box(5, 5), _box(80, 80)], [0.9, 0.9], [1, 2]))  # a one-frame blip
    out = IoUTracker(score_thr=0.5, nms_iou_thr=0.5, min_length=2).track_video(frames)
    assert [f.ids.tolist() for f in out] == [[1]] * 6
    out = IoUTracker(score_thr=0.1, nms_iou_thr=None, min_length=1).track_video(frames)
    assert [len(f.ids) for f in out] == [3] * 5 + [2]


def test_metrics_are_one_on_a_perfect_prediction_and_lower_on_a_shuffled_one():
    rng = np.random.default_rng(0)
    gt = _video({i: {t: (10 * i, 3 * t) for t in range(12)} for i in range(1, 5)}, 12)
    perfect = mot_metrics([gt], [gt])
    for name in ('MOTA', 'IDF1', 'HOTA', 'DetA', 'AssA', 'MOTP'):
        assert perfect[name] == pytest.approx(1.0), name
    assert perfect['IDSW'] == perfect['FP'] == perfect['FN'] == 0 and perfect['GT'] == 48
    shuffled = [Frame(f.bboxes, f.scores, f.labels, rng.permutation(f.ids)) for f in gt]
    m = mot_metrics([gt], [shuffled])
    assert m['IDSW'] > 0 and m['MOTA'] < 1.0 and m['IDF1'] < 0.8 and m['HOTA'] < 0.9
    assert m['DetA'] == pytest.approx(1.0)  # the boxes are right, only the ids are not
    # a missed box costs detection, not association
    missing = [f.select(np.arange(len(f.ids)) > 0) if t % 2 else f for t, f in enumerate(gt)]
    m = mot_metrics([gt], [missing])
    assert m['FN'] == 6 and m['MOTA'] == pytest.approx(1 - 6 / 48) and m['IDSW'] == 0


def test_tracking_the_ground_truth_boxes_recovers_the_ground_truth():
    gt = _video({1: {t: (2 + 3 * t, 20) for t in range(10)},
                 2: {t: (60 - 2 * t, 22) for t in range(2, 10)}}, 10)
    out = IoUTracker(min_length=1).track_video(_detections(gt))
    m = mot_metrics([gt], [out])
    assert m['MOTA'] == pytest.approx(1.0) and m['IDF1'] == pytest.approx(1.0)


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match='iou_thr=1.5'):
        IoUTracker(iou_thr=1.5)
    with pytest.raises(ValueError, match='max_age=-1'):
        IoUTracker(max_age=-1)
    with pytest.raises(ValueError, match='min_length=0'):
        IoUTracker(min_length=0)
    with pytest.raises(TypeError, match=r'frames\[0\]'):
        IoUTracker().track_video([np.zeros((1, 4))])
    with pytest.raises(ValueError, match='as many scores'):
        Frame([[0, 0, 1, 1]], [0.5, 0.4], [1])
    with pytest.raises(ValueError, match='videos'):
        mot_metrics([[]], [])


def test_tracking_breakdown_on_a_hand_made_frame(tmp_path, capsys):
    """tools/analysis_tools/tracking_breakdown.py: situations from gt.txt and recall per
    situation, with the class and the score threshold respected."""
    import pickle

    from PIL import Image

    from conftest import tool
    seq = tmp_path / 'val' / 'seq-0000'
    (seq / 'img1').mkdir(parents=True)
    (seq / 'gt').mkdir()
    Image.new('L', (64, 64)).save(seq / 'img1' / '000001.png')
    # frame,id,x,y,w,h,1,class,visibility: a clear box, two crossing boxes (one partly hidden),
    # one leaving through the right border
    (seq / 'gt' / 'gt.txt').write_text('1,1,2,2,10,14,1,4,1.0\n'
                                       '1,2,20,20,10,14,1,5,1.0\n'
                                       '1,3,25,22,10,14,1,6,0.6\n'
                                       '1,4,56,40,8,14,1,7,0.5\n')
    pred = dict(img_path=str(seq / 'img1' / '000001.png'), pred_instances=dict(
        # the clear box found; the crossing one found with the wrong class; the occluded one
        # found under the threshold; the border one found
        bboxes=np.array([[2, 2, 12, 16], [20, 20, 30, 34], [25, 22, 35, 36], [56, 40, 64, 54],
                         [40, 2, 50, 16]], np.float32),
        scores=np.array([0.9, 0.8, 0.3, 0.7, 0.5], np.float32),
        labels=np.array([3, 0, 5, 6, 1])))
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps([pred]))
    breakdown = tool('analysis_tools/tracking_breakdown.py')
    assert breakdown.situations(np.loadtxt(seq / 'gt' / 'gt.txt', delimiter=','), 64, 64) == [
        'clear', 'crossing', 'occluded', 'border']
    counts = breakdown.breakdown(str(path), score_thr=0.4, iou_thr=0.5)
    assert counts['clear'] == (1, 1) and counts['crossing'] == (0, 1)
    assert counts['occluded'] == (0, 1) and counts['border'] == (1, 1)
    assert counts['all'] == (2, 4)
    assert counts['precision'] == (2, 4)  # 4 detections above 0.4, 2 of them right
    assert breakdown.main([f'A={path}']) == 0
    assert '| border | 1 | 1.000 |' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        breakdown.main([f'{path}'])
    assert 'is not NAME=PKL' in capsys.readouterr().err
