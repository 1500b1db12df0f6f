"""The moving-digit clips: deterministic files, labels that follow the motion in the pixels, a
frame position that says nothing about the class, atomic folders and clear errors."""
from __future__ import annotations

import filecmp
import math
import os

import numpy as np
import pytest

from mmbackbones.demos.datasets import digit_clips
from mmbackbones.demos.datasets.digit_clips import (
    CLASSES,
    generate,
    load_split,
    prepare_digit_clips,
)

SMALL = dict(num_train=24, num_val=16)


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The torus shift ``(dx, dy)`` that best maps frame ``a`` onto frame ``b``."""
    fa, fb = np.fft.fft2(a - a.mean()), np.fft.fft2(b - b.mean())
    corr = np.real(np.fft.ifft2(np.conj(fa) * fb))
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    size = a.shape[0]
    return ((dx + size // 2) % size - size // 2, (dy + size // 2) % size - size // 2)


def test_labels_follow_the_motion_in_the_pixels():
    clips = list(generate('val', 48))
    assert {c.label for c in clips} == set(range(len(CLASSES)))
    for clip in clips:
        frames = clip.frames.astype(np.float32)
        moving = frames - np.median(frames, axis=0)  # the static scene removed
        # frame to frame (the whole clip's path can exceed half the torus)
        dx, dy = np.sum([_shift(moving[t], moving[t + 1]) for t in range(len(moving) - 1)], 0)
        angle = math.degrees(math.atan2(-dy, dx)) % 360  # image y points down
        error = min(abs(angle - 45 * clip.label), 360 - abs(angle - 45 * clip.label))
        assert error < 22.5, (CLASSES[clip.label], dx, dy, angle)
        speed = math.hypot(*clip.velocity)
        assert 1.5 <= speed <= 2.5


def test_a_frame_position_says_nothing_about_the_class():
    """The digit's start is uniform on the torus for every class: per class, the mean start is
    near the middle and the spread is that of a uniform distribution."""
    clips = list(generate('train', 800))
    starts = np.array([c.start for c in clips])
    labels = np.array([c.label for c in clips])
    for k in range(len(CLASSES)):
        own = starts[labels == k]
        assert np.all(np.abs(own.mean(0) - 16) < 3.5), (CLASSES[k], own.mean(0))
        assert np.all(np.abs(own.std(0) - 32 / math.sqrt(12)) < 2.0), (CLASSES[k], own.std(0))


def test_splits_use_disjoint_digit_samples():
    train = {c.source for c in generate('train', 200)}
    val = {c.source for c in generate('val', 200)}
    assert train and val and not train & val


def test_same_seed_same_files_other_seed_other_clips(tmp_path):
    a = prepare_digit_clips(str(tmp_path / 'a'), **SMALL)
    b = prepare_digit_clips(str(tmp_path / 'b'), **SMALL)
    c = prepare_digit_clips(str(tmp_path / 'c'), seed=1, **SMALL)
    for split in ('train', 'val'):
        for name in ('clips.npy', 'annotations.json'):
            assert filecmp.cmp(os.path.join(a, split, name), os.path.join(b, split, name),
                               shallow=False)
        assert not filecmp.cmp(os.path.join(a, split, 'clips.npy'),
                               os.path.join(c, split, 'clips.npy'), shallow=False)
    clips, annotations = load_split(a, 'val')
    assert clips.shape == (16, 8, 32, 32) and clips.dtype == np.uint8
    assert [x['direction'] for x in annotations] == [CLASSES[x['label']] for x in annotations]
    assert prepare_digit_clips(a, **SMALL) == a  # prepared: nothing rewritten


def test_no_half_written_folder_after_a_crash(tmp_path, monkeypatch):
    root = tmp_path / 'clips'
    real = digit_clips._write_split

    def crash(folder, split, *args):
        real(folder, split, *args)
        if split == 'val':
            raise KeyboardInterrupt  # killed after writing both splits, before the marker

    monkeypatch.setattr(digit_clips, '_write_split', crash)
    with pytest.raises(KeyboardInterrupt):
        prepare_digit_clips(str(root), **SMALL)
    assert os.listdir(tmp_path) == []  # neither the folder nor its temporary sibling
    monkeypatch.setattr(digit_clips, '_write_split', real)
    prepare_digit_clips(str(root), **SMALL)
    assert sorted(os.listdir(root)) == ['digit_clips.json', 'train', 'val']


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(num_train=0), ValueError, r'num_train=0 must be a positive int'),
    (dict(frames=8), TypeError, r"unknown digit clip settings \['frames'\]; allowed: .*num_frames"),
    (dict(num_frames=1), ValueError, r'num_frames=1 must be an int >= 2'),
    (dict(frame_size=12), ValueError, r'frame_size=12 must be an int of at least .* \(18\)'),
    (dict(speed=(2, 1)), ValueError, r'speed=\(2, 1\) must be \(min, max\) pixels per frame'),
])
def test_bad_settings_are_clear_errors(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        prepare_digit_clips(str(tmp_path / 'x'), **dict(SMALL, **kwargs))
    assert not (tmp_path / 'x').exists()


def test_folders_that_are_not_ours_are_refused(tmp_path):
    prepare_digit_clips(str(tmp_path / 'a'), **SMALL)
    with pytest.raises(ValueError, match=r"holds digit clips prepared with .*'seed': 0"):
        prepare_digit_clips(str(tmp_path / 'a'), seed=3, **SMALL)
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'mine.txt').write_text('keep')
    with pytest.raises(FileExistsError, match='is not a digit clip folder'):
        prepare_digit_clips(str(tmp_path / 'b'), **SMALL)
    assert (tmp_path / 'b' / 'mine.txt').read_text() == 'keep'
    with pytest.raises(FileNotFoundError, match='not a prepared digit clip folder'):
        load_split(str(tmp_path / 'b'), 'val')
    with pytest.raises(ValueError, match="split='test' is not one of"):
        load_split(str(tmp_path / 'a'), 'test')
