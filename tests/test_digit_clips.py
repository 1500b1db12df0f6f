"""The moving-digit clips: deterministic files, labels that follow the motion in the pixels, a
frame position that says nothing about the class; atomic folders and clear errors of both clip
sets (directions, which digit moves which way: tests/test_digit_moves_clips.py); and the
settings every generator (canvases, clips, moves, tracks) checks by the same rules."""
from __future__ import annotations

import filecmp
import inspect
import math
import os

import numpy as np
import pytest

from mmbackbones.demos.datasets import (
    digit_canvas,
    digit_clips,
    digit_moves,
    digit_tracks,
    prepare_digit_canvas,
    prepare_digit_moves,
    prepare_digit_tracks,
)
from mmbackbones.demos.datasets.digit_clips import (
    CLASSES,
    generate,
    load_split,
    prepare_digit_clips,
)

from conftest import clip_motion

SMALL = dict(num_train=24, num_val=16)


def test_labels_follow_the_motion_in_the_pixels():
    clips = list(generate('val', 48))
    assert {c.label for c in clips} == set(range(len(CLASSES)))
    for clip in clips:
        dx, dy = clip_motion(clip.frames)
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


#: The clip sets: generator module, prepare function, what their folder is called in messages.
CLIP_SETS = {'clips': (digit_clips, prepare_digit_clips, 'digit clip'),
             'moves': (digit_moves, prepare_digit_moves, 'digit moves')}


@pytest.mark.parametrize('clip_set', sorted(CLIP_SETS))
def test_same_seed_same_files_other_seed_other_clips(tmp_path, clip_set):
    module, prepare, _ = CLIP_SETS[clip_set]
    a = prepare(str(tmp_path / 'a'), **SMALL)
    b = prepare(str(tmp_path / 'b'), **SMALL)
    c = prepare(str(tmp_path / 'c'), seed=1, **SMALL)
    for split in ('train', 'val'):
        for name in ('clips.npy', 'annotations.json'):
            assert filecmp.cmp(os.path.join(a, split, name), os.path.join(b, split, name),
                               shallow=False)
        assert not filecmp.cmp(os.path.join(a, split, 'clips.npy'),
                               os.path.join(c, split, 'clips.npy'), shallow=False)
    clips, annotations = module.load_split(a, 'val')
    assert clips.shape == (16, 8, 32, 32) and clips.dtype == np.uint8
    assert len(annotations) == 16
    assert prepare(a, **SMALL) == a  # prepared: nothing rewritten


def test_direction_names_follow_the_labels(tmp_path):
    _, annotations = load_split(prepare_digit_clips(str(tmp_path / 'a'), **SMALL), 'val')
    assert [x['direction'] for x in annotations] == [CLASSES[x['label']] for x in annotations]


@pytest.mark.parametrize('clip_set', sorted(CLIP_SETS))
def test_no_half_written_folder_after_a_crash(tmp_path, monkeypatch, clip_set):
    module, prepare, _ = CLIP_SETS[clip_set]
    root = tmp_path / 'clips'
    real = digit_clips.write_clip_split  # what every clip set writes its splits with

    def crash(folder, split, *args):
        real(folder, split, *args)
        if split == 'val':
            raise KeyboardInterrupt  # killed after writing both splits, before the marker

    monkeypatch.setattr(digit_clips, 'write_clip_split', crash)
    with pytest.raises(KeyboardInterrupt):
        prepare(str(root), **SMALL)
    assert os.listdir(tmp_path) == []  # neither the folder nor its temporary sibling
    monkeypatch.setattr(digit_clips, 'write_clip_split', real)
    prepare(str(root), **SMALL)
    assert sorted(os.listdir(root)) == sorted([module._MARKER, 'train', 'val'])


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


@pytest.mark.parametrize('clip_set', sorted(CLIP_SETS))
def test_folders_that_are_not_ours_are_refused(tmp_path, clip_set):
    module, prepare, kind = CLIP_SETS[clip_set]
    prepare(str(tmp_path / 'a'), **SMALL)
    with pytest.raises(ValueError, match=r"holds digit (clips|moves) prepared with .*'seed': 0"):
        prepare(str(tmp_path / 'a'), seed=3, **SMALL)
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'mine.txt').write_text('keep')
    with pytest.raises(FileExistsError, match=f'is not a {kind} folder'):
        prepare(str(tmp_path / 'b'), **SMALL)
    assert (tmp_path / 'b' / 'mine.txt').read_text() == 'keep'
    with pytest.raises(FileNotFoundError,
                       match=rf'not a prepared {kind} folder \(no {module._MARKER}\); prepare it '
                             rf'with {prepare.__name__}\(\)'):
        module.load_split(str(tmp_path / 'b'), 'val')
    with pytest.raises(ValueError, match="split='test' is not one of"):
        module.load_split(str(tmp_path / 'a'), 'test')


# ------------------------------------------------------------------ the settings of every generator
GENERATORS = {'canvas': digit_canvas, 'clips': digit_clips, 'moves': digit_moves,
              'tracks': digit_tracks}
PREPARE = {'canvas': prepare_digit_canvas, 'clips': prepare_digit_clips,
           'moves': prepare_digit_moves, 'tracks': prepare_digit_tracks}
#: A bad value of a setting that generators share, and the error every one of them raises.
BAD_SETTINGS = [
    ('num_train', True, TypeError, 'num_train=True must be a positive int (a bool is not an int).'),
    ('num_train', 0, ValueError, 'num_train=0 must be a positive int.'),
    ('num_val', -2, ValueError, 'num_val=-2 must be a positive int.'),
    ('num_val', 2.0, TypeError, 'num_val=2.0 must be a positive int.'),
    ('seed', -1, ValueError, 'seed=-1 must be a non-negative int.'),
    ('seed', '0', TypeError, "seed='0' must be a non-negative int."),
    ('val_fraction', 1, ValueError, 'val_fraction=1 must be a number in (0, 1).'),
    ('val_fraction', 0.0, ValueError, 'val_fraction=0.0 must be a number in (0, 1).'),
    ('val_fraction', True, TypeError,
     'val_fraction=True must be a number in (0, 1) (a bool is not a number).'),
    ('digit_size', (20, 10), ValueError,
     'digit_size=(20, 10) must be (min, max) int pixels, 8 <= min <= max.'),
    ('digit_size', [6, 10], ValueError,
     'digit_size=[6, 10] must be (min, max) int pixels, 8 <= min <= max.'),
    ('digit_size', (10, 12, 14), ValueError,
     'digit_size=(10, 12, 14) must be (min, max) int pixels, 8 <= min <= max.'),
    ('digit_size', (10.0, 12), TypeError,
     'digit_size=(10.0, 12) must be (min, max) int pixels, 8 <= min <= max.'),
    ('digit_size', (10, True), TypeError,
     'digit_size=(10, True) must be (min, max) int pixels, 8 <= min <= max '
     '(a bool is not an int).'),
    ('digit_size', 12, TypeError, 'digit_size=12 must be (min, max) int pixels, 8 <= min <= max.'),
    ('speed', (2, 1), ValueError,
     'speed=(2, 1) must be (min, max) pixels per frame, 0 < min <= max.'),
    ('speed', (0, 1.5), ValueError,
     'speed=(0, 1.5) must be (min, max) pixels per frame, 0 < min <= max.'),
    ('speed', (1, 'fast'), TypeError,
     "speed=(1, 'fast') must be (min, max) pixels per frame, 0 < min <= max."),
]
CASES = [(generator, *bad) for bad in BAD_SETTINGS for generator, module in GENERATORS.items()
         if bad[0] in module.SETTINGS.settings]


def test_every_shared_setting_is_shared():
    for name in {bad[0] for bad in BAD_SETTINGS}:
        assert len([c for c in CASES if c[1] == name]) >= 2, name


@pytest.mark.parametrize('generator, name, value, error, message', CASES,
                         ids=[f'{c[0]}-{c[1]}={c[2]!r}' for c in CASES])
def test_every_generator_refuses_a_bad_setting_the_same_way(tmp_path, generator, name, value,
                                                            error, message):
    with pytest.raises(error) as caught:
        PREPARE[generator](str(tmp_path / 'x'), **{name: value})
    assert str(caught.value) == message
    assert not (tmp_path / 'x').exists()
    if name not in ('num_train', 'num_val'):  # generate() takes the others, checked alike
        with pytest.raises(error) as caught:
            next(GENERATORS[generator].generate('val', 1, **{name: value}))
        assert str(caught.value) == message


@pytest.mark.parametrize('generator, name, minimum, room', [
    ('canvas', 'canvas_size', 44, 'the largest digit_size + 4'),
    ('clips', 'frame_size', 18, 'the largest digit_size + 4'),
    ('moves', 'frame_size', 32, 'the largest digit_size + 4'),
    ('tracks', 'frame_size', 60, 'twice the largest digit_size + 4'),
])
def test_frames_leave_room_for_the_largest_digit(generator, name, minimum, room):
    settings = GENERATORS[generator].SETTINGS
    with pytest.raises(ValueError) as caught:
        settings.resolve({name: minimum - 1})
    assert str(caught.value) == (f'{name}={minimum - 1} must be an int of at least {room} '
                                 f'({minimum}).')
    with pytest.raises(TypeError, match=rf'^{name}={minimum}\.0 must be an int of at least'):
        settings.resolve({name: float(minimum)})
    settings.resolve({name: minimum})
    settings.resolve({name: minimum - 1, 'digit_size': (8, 8)})  # room for smaller digits


@pytest.mark.parametrize('generator', sorted(GENERATORS))
def test_every_generator_refuses_unknown_settings_and_bad_counts(tmp_path, generator):
    module = GENERATORS[generator]
    with pytest.raises(TypeError, match=r"settings \['nmu_val'\]; allowed: \[.*'num_val'"):
        PREPARE[generator](str(tmp_path / 'x'), nmu_val=3)
    count = list(inspect.signature(module.generate).parameters)[1]  # num_images, ...
    with pytest.raises(ValueError, match=rf'^{count}=-1 must be a non-negative int\.$'):
        next(module.generate('val', -1))
    with pytest.raises(TypeError, match=rf'^{count}=True must be a non-negative int \(a bool'):
        next(module.generate('val', True))
    assert list(module.generate('val', 0)) == []
    with pytest.raises(ValueError, match=r"^split='test' is not one of \('train', 'val'\)\.$"):
        next(module.generate('test', 1))
    assert not (tmp_path / 'x').exists()
