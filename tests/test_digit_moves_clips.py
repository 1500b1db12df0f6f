"""Which digit moves which way (``mmbackbones.demos.datasets.digit_moves``): every label
re-derived from its clip's annotations and from its pixels, what one frame shows, few clips per
class, the 2D digits job's split of the digit samples, settings, the command line; and the
controls of ``tools/analysis_tools/clip_time_controls.py`` that need no trained model. Same-seed
files and atomic folders: tests/test_digit_clips.py, for both clip sets."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from mmbackbones.demos.datasets.__main__ import main as datasets_main
from mmbackbones.demos.datasets.digit_canvas import source_digits
from mmbackbones.demos.datasets.digit_moves import (
    CLASSES,
    DIRECTIONS,
    FRAME_GROUPS,
    generate,
    load_split,
    prepare_digit_moves,
)

from conftest import clip_motion, tool

SMALL = dict(num_train=48, num_val=40)


def _direction(velocity) -> int:
    """The index into DIRECTIONS nearest to the angle of ``velocity`` (``y`` down)."""
    angle = math.degrees(math.atan2(-velocity[1], velocity[0])) % 360
    return int(round(angle / 90)) % 4


def test_classes_are_a_digit_and_a_direction():
    assert len(CLASSES) == 40 and len(set(CLASSES)) == 40
    assert CLASSES[:5] == ('0-right', '0-up', '0-left', '0-down', '1-right')
    assert all(CLASSES[4 * d + k] == f'{d}-{w}' for d in range(10)
               for k, w in enumerate(DIRECTIONS))
    # what one frame can tell: the digit and the axis of the motion
    assert FRAME_GROUPS == tuple(2 * d + k % 2 for d in range(10) for k in range(4))
    assert [CLASSES[i] for i in range(40) if FRAME_GROUPS[i] == 7] == ['3-up', '3-down']


def test_every_label_follows_from_the_annotations(tmp_path):
    """Re-derive each clip's label from its annotations: the digit is scikit-learn's target of
    its source sample, the direction is that of its velocity; label = 4 * digit + direction."""
    root = prepare_digit_moves(str(tmp_path / 'moves'), num_train=120, num_val=80)
    targets = source_digits()['targets']
    for split in ('train', 'val'):
        _, annotations = load_split(root, split)
        with open(os.path.join(root, split, 'annotations.json')) as f:
            assert json.load(f)['classes'] == list(CLASSES)
        for a in annotations:
            digit, direction = int(targets[a['source_index']]), _direction(a['velocity'])
            assert a['label'] == 4 * digit + direction, a
            assert (a['digit'], a['direction']) == (digit, DIRECTIONS[direction]), a
            assert 1.0 <= math.hypot(*a['velocity']) <= 2.0
        # few clips per class, every class the same count
        counts = np.bincount([a['label'] for a in annotations], minlength=40)
        assert counts.min() == counts.max() == len(annotations) // 40, counts


def test_every_label_follows_from_the_pixels():
    """The direction of each clip's label is the one its frames show."""
    for clip in generate('val', 80):
        dx, dy = clip_motion(clip.frames)
        assert _direction((dx, dy)) == clip.direction, (CLASSES[clip.label], dx, dy)
        assert clip.label == 4 * clip.digit + clip.direction


def _ink_centroids(frames: np.ndarray) -> np.ndarray:
    """``T x 2``: per frame the ``(x, y)`` centroid of the bright pixels (the digit's ink)."""
    ink = np.where(frames > 128, frames.astype(np.float32), 0.0)
    total = ink.sum((1, 2))
    return np.stack([(ink.sum(1) * np.arange(frames.shape[2])).sum(-1) / total,
                     (ink.sum(2) * np.arange(frames.shape[1])).sum(-1) / total], axis=1)


def test_a_frame_tells_the_axis_of_the_motion_never_which_way():
    """Each path is centred on the frame's middle, so the digit's place in a frame drawn at
    random has the same distribution for 'right' as for 'left' (and 'up' as 'down'); the first
    frames alone do differ, by the path's length."""
    clips = list(generate('train', 800))
    where = {k: np.array([_ink_centroids(c.frames) for c in clips if c.direction == k])
             for k in range(len(DIRECTIONS))}  # clips x T x (x, y)
    for ahead, back, axis in ((0, 2, 0), (3, 1, 1)):  # right/left in x, down/up in y
        a, b = where[ahead][..., axis], where[back][..., axis]
        assert abs(a.mean() - b.mean()) < 0.4 and abs(a.std() - b.std()) < 0.4, \
            (DIRECTIONS[ahead], a.mean(), a.std(), DIRECTIONS[back], b.mean(), b.std())
        assert a[:, 0].mean() < b[:, 0].mean() - 5, (a[:, 0].mean(), b[:, 0].mean())
        # across the axis the digit stays put: what one frame can tell is the axis
        assert where[ahead][..., 1 - axis].std() < 0.7 * a.std()


def test_splits_are_the_2d_digits_jobs_split(digits_root):
    """Train clips use only the samples the 2D digits job trains on, val clips only those it
    holds out (prepare_digits' val folder): its checkpoint never saw a val clip's digit."""
    held_out = {int(name[:-len('.png')]) for _, _, files in os.walk(os.path.join(digits_root,
                                                                               'val'))
                for name in files}
    assert len(held_out) == 360
    train = {c.source for c in generate('train', 400)}
    val = {c.source for c in generate('val', 400)}
    assert val <= held_out and not train & held_out
    assert len(val) > 200  # many samples, not a few repeated


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(split_seed=-1), ValueError, r'^split_seed=-1 must be a non-negative int\.$'),
    (dict(split_seed=0.5), TypeError, r'^split_seed=0\.5 must be a non-negative int\.$'),
    (dict(classes=40), TypeError,
     r"^unknown digit moves settings \['classes'\]; allowed: .*'split_seed'"),
])
def test_bad_settings_are_clear_errors(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        prepare_digit_moves(str(tmp_path / 'x'), **dict(SMALL, **kwargs))
    assert not (tmp_path / 'x').exists()


def test_command_line_writes_the_set(tmp_path, capsys):
    root = str(tmp_path / 'moves')
    assert datasets_main(['moves', root, '--num-train', '40', '--num-val', '40']) == 0
    assert capsys.readouterr().out.startswith(f'{root}: seed=0, num_train=40, num_val=40, ')
    assert sorted(os.listdir(root)) == ['digit_moves.json', 'train', 'val']
    with pytest.raises(SystemExit):
        datasets_main(['moves', root, '--split-seed', '-1'])
    assert 'split_seed=-1 must be a non-negative int' in capsys.readouterr().err


# ------------------------------------------------------------------ the controls tool
def test_single_frame_bound_is_the_group_read_right_and_the_rest_guessed():
    controls = tool('analysis_tools/clip_time_controls.py')
    assert controls.single_frame_bound(1.0, FRAME_GROUPS) == 0.5
    assert controls.single_frame_bound(0.8, FRAME_GROUPS) == pytest.approx(0.4)
    assert controls.single_frame_bound(1.0, (0, ) * 8) == 0.125  # the direction clips


def test_shuffled_frames_are_never_in_order():
    controls = tool('analysis_tools/clip_time_controls.py')
    clips = np.arange(50 * 3).reshape(50, 3, 1, 1).astype(np.uint8)
    shuffled = controls.shuffle_frames(clips, seed=0)
    for before, after in zip(clips, shuffled):
        assert sorted(after.ravel()) == sorted(before.ravel())
        assert not np.array_equal(after, before)


def test_single_frame_models_from_scratch_and_from_a_2d_checkpoint(tmp_path):
    """The control's 2D model takes uint8 frames: one grey channel at quarter width from
    scratch, or the 2D checkpoint's full-width ResNet-18 (its weights loaded) on three."""
    import torch

    from mmbackbones.models import ResNet
    controls = tool('analysis_tools/clip_time_controls.py')
    frames = torch.from_numpy(next(generate('val', 1)).frames[:2])
    assert tuple(controls.single_frame_model(40, None)(frames).shape) == (2, 40)
    torch.manual_seed(0)
    two_d = ResNet(depth=18)
    path = str(tmp_path / 'digits_2d.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in two_d.state_dict().items()}}, path)
    model = controls.single_frame_model(40, path)
    torch.testing.assert_close(model.backbone.conv1.weight, two_d.conv1.weight)
    assert tuple(model(frames).shape) == (2, 40)


def test_epoch_table_compares_runs_to_a_reference():
    table = tool('misc/epoch_table.py')
    assert table.first_epoch_reaching([0.2, 0.5, 0.4, 0.6], 0.45) == 2
    assert table.first_epoch_reaching([0.2, 0.3], 0.45) is None
    text = table.table({'scratch': [0.1, 0.4, 0.6], 'center': [0.5, 0.7, 0.8]}, 'scratch')
    assert text.splitlines() == [
        '| epoch | scratch | center |', '|---|---|---|',
        '| 1 | 0.100 | 0.500 |', '| 2 | 0.400 | 0.700 |', '| 3 | 0.600 | 0.800 |',
        '| final - scratch (points) | +0.0 | +20.0 |',
        '| first epoch >= scratch final (0.600) | 3 | 2 |']
