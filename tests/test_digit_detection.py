"""The digit canvas detection set, and detection with our backbone and FPN that learns on it.

The generator tests need only numpy, Pillow and scikit-learn; the training tests need the
mmdetection tier (`bash tools/install.sh --with-mmdet`) and skip with that reason without it.
The full run (mAP@0.5 >= 0.9 in ~15 minutes) is a measurement, not a test; here a few dozen
iterations prove the plumbing and that the loss falls.
"""
from __future__ import annotations

import filecmp
import glob
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest

from mmbackbones.demos.datasets import digit_canvas
from mmbackbones.demos.datasets.digit_canvas import generate, prepare_digit_canvas, source_digits
from mmbackbones.deploy import why_no_torchao

from conftest import (
    assert_says_what_to_install,
    json_rows,
    reload_reproduces,
    requires_mmdet,
    short_schedule,
    tool,
    train_config,
    train_job,
)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SMALL = dict(num_train=24, num_val=12)


@pytest.fixture(scope='module')
def val_canvases(digit_sources):
    return list(generate('val', 40, sources=digit_sources))


def test_boxes_hold_all_of_their_digit_and_nothing_else(val_canvases):
    for canvas in val_canvases:
        assert 2 <= len(canvas.boxes) <= 6
        bright = canvas.image >= 128  # no background or noise pixel comes near
        outside = np.ones_like(bright)
        for k, (x0, y0, x1, y1) in enumerate(canvas.boxes):
            ys, xs = np.nonzero(canvas.instances == k + 1)
            # the tight box of the digit's ink
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
            inside = canvas.instances[y0:y1, x0:x1]
            assert set(np.unique(inside)) <= {0, k + 1}  # no other digit
            assert not canvas.clutter[y0:y1, x0:x1].any()  # no clutter
            # the ink is what makes the digit visible: brighter than the box's background
            ink = canvas.image[ys, xs].astype(float)
            assert ink.max() >= 160 and ink.mean() > canvas.image[y0:y1, x0:x1][inside == 0].mean()
            outside[y0:y1, x0:x1] = False
        # every bright pixel outside the boxes is clutter (which there is, on some canvases)
        assert not (bright & outside & ~canvas.clutter).any()
    assert sum(c.clutter.any() for c in val_canvases) > len(val_canvases) // 2


def _normalised(ink: np.ndarray) -> np.ndarray:
    """An ink patch cut to its tight box and resized to 8 x 8 (the same for crops and sources)."""
    from PIL import Image
    ys, xs = np.nonzero(ink > 0)
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    out = np.asarray(Image.fromarray(ink / ink.max(), mode='F').resize((8, 8), Image.BILINEAR))
    return out.ravel()


def test_classes_are_right_and_splits_disjoint(digit_sources, val_canvases):
    from sklearn.neighbors import KNeighborsClassifier

    sources = digit_sources

    # a nearest-neighbour classifier fitted on the train samples reads the val canvases' digits
    train = sources['train']
    up = [digit_canvas._ink_patch(img, 32, 32) for img in sources['images'][train]]
    knn = KNeighborsClassifier(n_neighbors=3).fit([_normalised(p) for p in up],
                                                  sources['targets'][train])
    crops, labels = [], []
    for canvas in val_canvases:
        for k, (x0, y0, x1, y1) in enumerate(canvas.boxes):
            mask = canvas.instances[y0:y1, x0:x1] == k + 1
            crops.append(_normalised(canvas.image[y0:y1, x0:x1] * mask))
            labels.append(canvas.labels[k])
            assert canvas.labels[k] == sources['targets'][canvas.sources[k]]
    accuracy = np.mean(knn.predict(crops) == np.asarray(labels))
    assert accuracy > 0.9, accuracy
    # val canvases use only val samples, train canvases only train samples
    assert set(np.concatenate([c.sources for c in val_canvases])) <= set(sources['val'])
    train_sources = np.concatenate([c.sources for c in generate('train', 20, sources=sources)])
    assert set(train_sources) <= set(train)
    assert not set(sources['train']) & set(sources['val'])


def _files(root: str) -> list[str]:
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_seed_same_files_and_coco_annotations(tmp_path):
    a = prepare_digit_canvas(str(tmp_path / 'a'), masks=True, **SMALL)
    b = str(tmp_path / 'b')  # the command line of tools/misc/prepare_digit_canvas.py
    assert digit_canvas.main([b, '--masks', '--num-train', '24', '--num-val', '12']) == 0
    files = _files(a)
    assert files == _files(b)
    assert len([f for f in files if f.startswith('images')]) == 36
    assert len([f for f in files if f.startswith('masks')]) == 36
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert not mismatch and not errors
    c = prepare_digit_canvas(str(tmp_path / 'c'), **dict(SMALL, seed=1))
    assert not filecmp.cmp(osp.join(a, 'images', 'val', '00000.png'),
                           osp.join(c, 'images', 'val', '00000.png'), shallow=False)

    with open(osp.join(a, 'annotations', 'val.json')) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == [str(d) for d in range(10)]
    assert [i['file_name'] for i in coco['images']] == [f'{i:05d}.png' for i in range(12)]
    targets = source_digits()['targets']
    for ann in coco['annotations']:
        assert ann['category_id'] == targets[ann['source_index']] + 1
        assert ann['area'] == ann['bbox'][2] * ann['bbox'][3] > 0
    # a second call finds the folder and writes nothing
    mtime = os.stat(osp.join(a, 'digit_canvas.json')).st_mtime_ns
    assert prepare_digit_canvas(a, **SMALL) == a
    assert os.stat(osp.join(a, 'digit_canvas.json')).st_mtime_ns == mtime


def test_masks_agree_with_boxes(tmp_path):
    from PIL import Image
    root = prepare_digit_canvas(str(tmp_path / 'd'), masks=True, **SMALL)
    with open(osp.join(root, 'annotations', 'train.json')) as f:
        coco = json.load(f)
    for image in coco['images']:
        mask = np.asarray(Image.open(osp.join(root, 'masks', 'train', image['file_name'])))
        assert mask.shape == (image['height'], image['width'])
        covered = np.zeros(mask.shape, bool)
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id']]
        assert anns
        for ann in anns:
            x, y, w, h = ann['bbox']
            inside = mask[y:y + h, x:x + w]
            assert set(np.unique(inside)) == {0, ann['category_id']}
            ys, xs = np.nonzero(inside)  # the mask's extent is the box
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (0, 0, w, h)
            covered[y:y + h, x:x + w] = True
        assert not mask[~covered].any()
    # masks added later to a folder prepared without them are the same files
    later = prepare_digit_canvas(str(tmp_path / 'e'), **SMALL)
    assert not osp.exists(osp.join(later, 'masks'))
    prepare_digit_canvas(later, masks=True, **SMALL)
    names = _files(osp.join(root, 'masks'))
    assert names == _files(osp.join(later, 'masks'))
    _, mismatch, _ = filecmp.cmpfiles(osp.join(root, 'masks'), osp.join(later, 'masks'), names,
                                      shallow=False)
    assert not mismatch
    assert [p for p in os.listdir(later) if p.startswith('.')] == []


def test_crash_mid_write_leaves_no_dataset_folder(tmp_path, monkeypatch):
    root = str(tmp_path / 'data' / 'digit_det')
    calls = []

    def failing_save(array, path):
        calls.append(path)
        if len(calls) == 10:
            raise OSError('disk full')
        real_save(array, path)

    real_save = digit_canvas._save_png
    monkeypatch.setattr(digit_canvas, '_save_png', failing_save)
    with pytest.raises(OSError, match='disk full'):
        prepare_digit_canvas(root, **SMALL)
    assert os.listdir(tmp_path / 'data') == []  # neither the folder nor its temporary copy
    monkeypatch.undo()

    # a process killed mid-write: no dataset folder; the next call builds it
    script = (
        'import os, signal\n'
        'from mmbackbones.demos.datasets import digit_canvas as dc\n'
        'real, n = dc._save_png, []\n'
        'def save(a, p):\n'
        '    n.append(p)\n'
        '    if len(n) == 10: os.kill(os.getpid(), signal.SIGKILL)\n'
        '    real(a, p)\n'
        'dc._save_png = save\n'
        f'dc.prepare_digit_canvas({root!r}, num_train=24, num_val=12)\n')
    proc = subprocess.run([sys.executable, '-c', script], cwd=ROOT)
    assert proc.returncode == -9
    assert not osp.exists(root)
    prepare_digit_canvas(root, **SMALL)
    assert len(_files(osp.join(root, 'images'))) == 36


def test_clear_errors(tmp_path):
    root = prepare_digit_canvas(str(tmp_path / 'f'), **SMALL)
    with pytest.raises(ValueError, match='prepared with'):
        prepare_digit_canvas(root, **dict(SMALL, seed=3))
    with pytest.raises(TypeError, match='unknown generator settings'):
        prepare_digit_canvas(root, num_tran=5)
    with pytest.raises(ValueError, match='num_val=0'):
        prepare_digit_canvas(root, num_train=3, num_val=0)
    with pytest.raises(ValueError, match="split='test'"):
        next(generate('test', 1))
    with pytest.raises(ValueError, match='digit_size'):
        next(generate('val', 1, digit_size=(30, 20)))
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'x.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not a digit canvas folder'):
        prepare_digit_canvas(str(tmp_path / 'other'), **SMALL)


# ------------------------------------------------------------------ training (mmdetection tier)
RETINANET = osp.join(ROOT, 'configs', 'mmdet', 'digits', 'retinanet_r18_fpn_digits.py')
DET_DATA = """
_base_ = {config!r}
generator = dict(num_train={num_train}, num_val={num_val})
train_dataloader = dict(dataset=dict(data_root={root!r}, generator=generator))
val_dataloader = dict(dataset=dict(data_root={root!r}, generator=generator))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={root!r} + '/annotations/val.json')
test_evaluator = val_evaluator
"""
# 64 train canvases (8 steps of 8 per epoch), 16 val canvases, 3 epochs: 24 steps
TINY_DET = short_schedule(epochs=3, start_factor=0.1, warmup_steps=5) + """
# every box counts, so that the metric of an early model is not just zero
model = dict(test_cfg=dict(score_thr=0.0))
"""


def digit_detector_config(tmp_path, overrides: str, num_train: int, num_val: int) -> str:
    """RETINANET with its canvases under tmp_path, and `overrides`."""
    return DET_DATA.format(config=RETINANET, root=str(tmp_path / 'digit_det'),
                           num_train=num_train, num_val=num_val) + overrides


@requires_mmdet
@pytest.mark.slow
def test_retinanet_learns_evaluates_and_reloads(tmp_path):
    import pickle

    job = train_job(tmp_path, 'retinanet',
                    digit_detector_config(tmp_path, TINY_DET, num_train=64, num_val=16),
                    'coco/bbox_mAP', min_png=10_000)
    assert len(job.losses) == 24
    assert np.mean(job.losses[-4:]) < 0.92 * np.mean(job.losses[:4]), job.losses
    assert len(job.metrics) == 3  # COCO evaluation every epoch
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert all(0.0 <= r[key] <= 1.0 for r in job.metrics)
    preds = str(tmp_path / 'preds.pkl')
    reload_reproduces(job, str(tmp_path / 'test'), ('coco/bbox_mAP', 'coco/bbox_mAP_50',
                                                    'coco/bbox_mAP_75', 'coco/bbox_mAP_s'),
                      10_000, '--out', preds)
    # ... and the dumped predictions are those of the checkpoint loaded with mmdet's own API
    from mmdet.apis import inference_detector, init_detector

    from mmbackbones.engine import training_checkpoint_globals
    with open(preds, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 16
    with training_checkpoint_globals():  # mmengine's checkpoints under weights_only=True
        model = init_detector(job.config, job.checkpoint, device='cpu')
    result = inference_detector(model, dumped[0]['img_path']).pred_instances
    assert len(result.bboxes) > 0
    assert_same_detections(result, dumped[0]['pred_instances'])


def assert_same_detections(got, want, score_atol: float = 1e-5, box_atol: float = 1e-3):
    """The same scored, labelled boxes; boxes whose scores tie (within `score_atol`) may come out
    of NMS in either order, since the two runs' scores differ in their last bits."""
    import torch
    torch.testing.assert_close(got.scores, want['scores'], atol=score_atol, rtol=0)  # sorted
    same = ((got.scores[:, None] - want['scores'][None]).abs() <= score_atol) \
        & (got.labels[:, None] == want['labels'][None]) \
        & ((got.bboxes[:, None] - want['bboxes'][None]).abs().amax(-1) <= box_atol)
    unmatched_got = (~same.any(1)).nonzero().flatten().tolist()
    unmatched_want = (~same.any(0)).nonzero().flatten().tolist()
    assert not unmatched_got and not unmatched_want, (
        f'boxes {unmatched_got} of the reloaded model and {unmatched_want} of the dump have no '
        f'counterpart:\n{got.bboxes[unmatched_got]}\n{want["bboxes"][unmatched_want]}')


# 1,200 train canvases (150 steps of 8 per epoch), 200 val canvases, 2 epochs with the runtime's
# warm-up and cosine (~3 min on 2 cores): mAP@0.5 about 0.4, a detector with many boxes near
# the score threshold, where int8 rounding would show
INT8_DET = """
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
         convert_to_iter_based=True)]
default_hooks = dict(checkpoint=dict(save_best=None, max_keep_ckpts=1, interval=2))
custom_hooks = []
"""


@requires_mmdet
@pytest.mark.slow
@pytest.mark.skipif(why_no_torchao() is not None, reason=str(why_no_torchao()))
def test_retinanet_int8_backbone_keeps_map(tmp_path):
    """The digit detector evaluated by tools/test.py with its backbone in int8 (torchao PT2E,
    calibrated on training batches) keeps COCO mAP and mAP@0.5 within one point of fp32."""
    config, work_dir = train_config(
        tmp_path, 'retinanet',
        digit_detector_config(tmp_path, INT8_DET, num_train=1200, num_val=200))
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    metrics = {}
    for name, extra in (('fp32', []), ('int8', ['--precision', 'int8'])):
        test_dir = str(tmp_path / name)
        assert tool('test.py').main([config, ckpt, '--work-dir', test_dir, *extra]) == 0
        metrics[name] = json_rows(test_dir, '*.json')[-1]
    # the int8 run did replace the backbone: its log carries the quantization record
    (log,) = glob.glob(osp.join(str(tmp_path / 'int8'), '*', '*.log'))
    with open(log) as f:
        assert re.search(r'deployed backbone: .*quantize: \d+ layers int8', f.read(), re.S)
    fp32, int8 = metrics['fp32'], metrics['int8']
    print('fp32', {k: fp32[k] for k in ('coco/bbox_mAP', 'coco/bbox_mAP_50')},
          'int8', {k: int8[k] for k in ('coco/bbox_mAP', 'coco/bbox_mAP_50')})
    assert fp32['coco/bbox_mAP_50'] >= 0.3, fp32  # a detector, not noise
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert abs(int8[key] - fp32[key]) <= 0.01, (key, fp32[key], int8[key])



def test_mmdet_config_without_mmdet_says_what_to_install(monkeypatch, capsys):
    assert_says_what_to_install(RETINANET, 'mmdet', monkeypatch, capsys)


def test_broken_mmdet_install_says_what_to_install(monkeypatch):
    from mmengine.config import Config

    from mmbackbones import config as engine_config
    cfg = Config(dict(default_scope='mmdet'))
    if importlib.util.find_spec('mmdet') is None:
        with pytest.raises(engine_config.ConfigError, match='mmdet is not installed: bash tools/'):
            engine_config.check_scope_installed(cfg, 'x.py')
        return

    def fail(name):
        raise ImportError(f'{name}: libmmcv_ext.so: cannot open shared object file')

    monkeypatch.setattr(engine_config.importlib, 'import_module', fail)
    with pytest.raises(engine_config.ConfigError,
                       match=r'mmdet.models cannot be imported .*install: bash tools/install.sh '
                             '--with-mmdet'):
        engine_config.check_scope_installed(cfg, 'x.py')
