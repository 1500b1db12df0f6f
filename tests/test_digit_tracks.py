"""The digit tracking videos: deterministic, boxes on the visible ink, stable track ids.

Needs only numpy, Pillow and scikit-learn.
"""
from __future__ import annotations

import filecmp
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmbackbones.demos.datasets import digit_tracks
from mmbackbones.demos.datasets.digit_tracks import (
    MIN_VISIBILITY,
    generate,
    prepare_digit_tracks,
    read_gt,
)

SMALL = dict(num_train=2, num_val=2, seq_len=8)


@pytest.fixture(scope='module')
def videos(digit_sources):
    return list(generate('val', 12, sources=digit_sources))


def _all_files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_gives_identical_files(tmp_path):
    a = prepare_digit_tracks(str(tmp_path / 'a'), **SMALL)
    b = prepare_digit_tracks(str(tmp_path / 'b'), **SMALL)
    files = _all_files(a)
    assert files == _all_files(b)
    assert 'val/seq-0001/gt/gt.txt' in files and 'val/seq-0001/img1/000008.png' in files
    assert 'annotations/val.json' in files and 'train/seq-0000/seqinfo.ini' in files
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors
    c = prepare_digit_tracks(str(tmp_path / 'c'), **dict(SMALL, seed=1))
    assert not filecmp.cmp(osp.join(a, 'val/seq-0000/gt/gt.txt'),
                           osp.join(c, 'val/seq-0000/gt/gt.txt'), shallow=False)


def test_every_box_is_the_visible_ink_of_its_digit_and_holds_no_clutter(videos):
    for video in videos:
        n = len(video.labels)
        assert 2 <= n <= 5 and video.frames.shape == (24, 96, 96)
        for t, tid, x0, y0, x1, y1, label, vis in video.gt:
            t, tid = int(t), int(tid)
            ys, xs = np.nonzero(video.instances[t] == tid)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
            assert label == video.labels[tid - 1] and vis >= MIN_VISIBILITY
            assert not video.clutter[int(y0):int(y1), int(x0):int(x1)].any()
            ink = video.frames[t][ys, xs].astype(float)
            assert ink.max() >= 150  # the ink is what makes the digit visible
        # a digit is annotated exactly in the frames where enough of it is visible
        for t in range(len(video.frames)):
            shown = set(video.gt[video.gt[:, 0] == t, 1].astype(int))
            present = set(np.unique(video.instances[t])) - {0}
            assert shown <= present
    assert sum(v.clutter.any() for v in videos) > len(videos) // 2


def test_digits_cross_occlude_enter_and_leave_with_stable_ids(videos):
    crossings = occlusions = entering = leaving = 0
    for video in videos:
        seq_len = len(video.frames)
        boxes = {}
        for t, tid, *box, _, _ in video.gt:
            boxes.setdefault(int(tid), {})[int(t)] = np.asarray(box)
        # the first two digits are aimed at each other: their boxes overlap in some frame
        common = set(boxes.get(1, {})) & set(boxes.get(2, {}))
        if any(_overlap(boxes[1][t], boxes[2][t]) for t in common):
            crossings += 1
        for tid, track in boxes.items():
            frames = sorted(track)
            entering += frames[0] > 0
            leaving += frames[-1] < seq_len - 1
            gaps = [t for t in range(frames[0], frames[-1]) if t not in track]
            if gaps:  # hidden for a while, then seen again under the same id (and class)
                occlusions += 1
                rows = video.gt[video.gt[:, 1] == tid]
                assert len(set(rows[:, 6])) == 1
    assert crossings >= len(videos) * 2 // 3
    assert entering >= 2 and leaving >= 1
    assert occlusions >= 1


def _overlap(a, b):
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def test_files_match_the_generator_mot_and_coco_layouts(tmp_path, digit_sources):
    root = prepare_digit_tracks(str(tmp_path / 'tracks'), **SMALL)
    video = list(generate('val', 2, sources=digit_sources, seq_len=8))[1]
    gt = read_gt(osp.join(root, 'val/seq-0001/gt/gt.txt'))
    assert gt.shape == (len(video.gt), 9)
    np.testing.assert_array_equal(gt[:, 0] - 1, video.gt[:, 0])  # 1-based frames
    np.testing.assert_array_equal(gt[:, 2:4], video.gt[:, 2:4])
    np.testing.assert_array_equal(gt[:, 2:4] + gt[:, 4:6], video.gt[:, 4:6])
    np.testing.assert_array_equal(gt[:, 7] - 1, video.gt[:, 6])
    with open(osp.join(root, 'annotations/val.json')) as f:
        coco = json.load(f)
    assert [v['name'] for v in coco['videos']] == ['seq-0000', 'seq-0001']
    assert len(coco['images']) == 16 and coco['images'][9]['frame_id'] == 1
    assert coco['images'][9]['file_name'] == 'val/seq-0001/img1/000002.png'
    anns = [a for a in coco['annotations'] if a['video_id'] == 1]
    assert len(anns) == len(video.gt)
    assert len({a['instance_id'] for a in coco['annotations']}) == len(
        {(a['video_id'], a['track_id']) for a in coco['annotations']})
    ini = open(osp.join(root, 'val/seq-0001/seqinfo.ini')).read()
    assert 'seqLength=8' in ini and 'imWidth=96' in ini


def test_train_and_val_use_disjoint_digit_samples(digit_sources):
    train = {int(s) for v in generate('train', 6, sources=digit_sources) for s in v.sources}
    val = {int(s) for v in generate('val', 6, sources=digit_sources) for s in v.sources}
    assert train and val and not train & val
    assert max(train) < min(digit_sources['val'])


def test_an_interrupted_build_leaves_no_folder(tmp_path, monkeypatch):
    calls = []
    real = digit_tracks._write_sequence

    def crash_after_one(*args):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        real(*args)

    monkeypatch.setattr(digit_tracks, '_write_sequence', crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        prepare_digit_tracks(str(tmp_path / 'tracks'), **SMALL)
    assert os.listdir(tmp_path) == []  # neither the folder nor its temporary sibling
    monkeypatch.setattr(digit_tracks, '_write_sequence', real)
    root = prepare_digit_tracks(str(tmp_path / 'tracks'), **SMALL)
    assert len(_all_files(root)) == 2 * 2 * (8 + 2) + 3


def test_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split='test'"):
        next(generate('test', 1))
    with pytest.raises(TypeError, match='unknown generator settings'):
        prepare_digit_tracks(str(tmp_path / 'x'), frames=3)
    with pytest.raises(ValueError, match='digits_per_video'):
        next(generate('val', 1, digits_per_video=(1, 3)))
    with pytest.raises(ValueError, match='frame_size=40'):
        next(generate('val', 1, frame_size=40))
    with pytest.raises(ValueError, match='speed'):
        next(generate('val', 1, speed=(0, 1)))
    with pytest.raises(ValueError, match='num_val=0'):
        prepare_digit_tracks(str(tmp_path / 'x'), num_val=0)
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'mine.txt').write_text('keep')
    with pytest.raises(FileExistsError, match='not a digit tracks folder'):
        prepare_digit_tracks(str(foreign), **SMALL)
    assert (foreign / 'mine.txt').read_text() == 'keep'
    root = prepare_digit_tracks(str(tmp_path / 'ok'), **SMALL)
    with pytest.raises(ValueError, match='prepared with'):
        prepare_digit_tracks(root, **dict(SMALL, seed=3))


def test_command_line_writes_the_same_folder_without_a_runpy_warning(tmp_path):
    """``python -m mmbackbones.demos.datasets tracks``: no generator module is run as __main__
    after its package imported it (runpy's RuntimeWarning), and its folder is the one
    prepare_digit_tracks writes with the same settings."""
    root = str(tmp_path / 'cli')
    proc = subprocess.run(
        [sys.executable, '-W', 'error::RuntimeWarning', '-m', 'mmbackbones.demos.datasets',
         'tracks', root, '--num-train', '2', '--num-val', '2', '--seq-len', '8'],
        cwd=str(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'RuntimeWarning' not in proc.stderr
    assert proc.stdout.startswith(f'{root}: seed=0, num_train=2, num_val=2, seq_len=8, ')
    same = prepare_digit_tracks(str(tmp_path / 'api'), **SMALL)
    files = _all_files(same)
    assert files == _all_files(root)
    _, mismatch, errors = filecmp.cmpfiles(same, root, files, shallow=False)
    assert not mismatch and not errors
    bad = subprocess.run([sys.executable, '-m', 'mmbackbones.demos.datasets', 'tracks', root,
                          '--num-val', '0'], cwd=str(tmp_path), capture_output=True, text=True)
    assert bad.returncode == 2 and 'error: num_val=0 must be a positive int.' in bad.stderr
