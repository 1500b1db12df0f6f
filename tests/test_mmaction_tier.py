"""The mmaction2 tier: the stand-in for the 1.2.0 wheel's missing ``drn`` subpackage, and our
ResNet3d in mmaction2 recognizers from configs/mmaction/ (build through mmaction2's registry, a
training and an inference step, mmaction2's own recognizer checkpoints give the same class scores).
Needs mmaction2 (`bash tools/install.sh --with-mmaction`)."""
from __future__ import annotations

import importlib.machinery
import os.path as osp

import pytest
import torch

from conftest import ROOT, randomize, short_schedule, why_no_tier

REASON = why_no_tier('mmaction')
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))

CONFIGS = {
    'i3d': 'configs/mmaction/i3d_r50_8xb8-32x2x1-100e_kinetics400-rgb.py',
    'slowonly': 'configs/mmaction/slowonly_r50_8xb16-8x8x1-256e_kinetics400-rgb.py',
    'r3d': 'configs/mmaction/r3d-18_8xb8-8x8x1-180e_kinetics400-rgb.py',
}
# mmaction2's own config of the same recognizer (R3D-18 has none: theirs is ours with
# mmaction2's ResNet3d in the same dict)
THEIRS = {
    'i3d': 'mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_'
           'kinetics400-rgb.py',
    'slowonly': 'mmaction::recognition/slowonly/slowonly_r50_8xb16-8x8x1-256e_'
                'kinetics400-rgb.py',
    'r3d': None,
}


def _build(cfg):
    from mmbackbones.config import build_model_from_cfg
    return build_model_from_cfg(cfg)


def _batch(num_classes: int, n: int = 2, frames: int = 8, size: int = 32) -> dict:
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (1, 3, frames, size, size), generator=g,
                            dtype=torch.uint8) for _ in range(n)]
    samples = [ActionDataSample().set_gt_label(i % num_classes) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


# ------------------------------------------------------------------ the drn stand-in
def test_stand_in_lets_mmaction_models_import():
    import sys

    import mmaction.models
    from mmaction.registry import MODELS

    from mmbackbones.compat.mmaction import UPSTREAM_ISSUE, needs_drn_stand_in
    assert needs_drn_stand_in()  # the 1.2.0 wheel as published
    stand_in = sys.modules['mmaction.models.localizers.drn']
    assert stand_in.__stand_in_for__ == UPSTREAM_ISSUE == \
        'https://github.com/open-mmlab/mmaction2/issues/2714'
    assert MODELS.get('Recognizer3D') is mmaction.models.Recognizer3D
    with pytest.raises(ImportError, match='issues/2714.*DRN itself cannot be built'):
        MODELS.build(dict(type='DRN'))


def _fake_mmaction(tmp_path, init_text: str, with_drn: bool):
    localizers = tmp_path / 'mmaction' / 'models' / 'localizers'
    localizers.mkdir(parents=True)
    (localizers / '__init__.py').write_text(init_text)
    if with_drn:
        (localizers / 'drn').mkdir()
        (localizers / 'drn' / 'drn.py').write_text('class DRN: pass\n')
    spec = importlib.machinery.ModuleSpec('mmaction', None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path / 'mmaction')]
    return spec


@pytest.mark.parametrize('init_text, with_drn, needed', [
    ('from .drn.drn import DRN\n', False, True),   # 1.2.0 from pip
    ('from .drn.drn import DRN\n', True, False),   # a fixed wheel: the fix removes itself
    ('from .bmn import BMN\n', False, False),      # a release without DRN
])
def test_stand_in_only_where_the_wheel_needs_it(tmp_path, monkeypatch, init_text, with_drn,
                                                needed):
    import importlib.util

    from mmbackbones.compat import mmaction as compat
    spec = _fake_mmaction(tmp_path, init_text, with_drn)
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: spec if name == 'mmaction' else None)
    assert compat.needs_drn_stand_in() is needed


def test_stand_in_needs_nothing_without_mmaction(monkeypatch):
    import importlib.util

    from mmbackbones.compat import mmaction as compat
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None)
    assert compat.needs_drn_stand_in() is False


# ------------------------------------------------------------------ the recognizer configs
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds_and_steps(name):
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS

    from mmbackbones.config import load_config
    from mmbackbones.models import ResNet3d
    cfg = load_config(osp.join(ROOT, CONFIGS[name]))
    assert cfg.default_scope == 'mmaction'
    model = _build(cfg)
    assert type(model) is MODELS.get('mmaction.Recognizer3D')
    assert type(model.backbone) is ResNet3d
    num_classes = model.cls_head.num_classes
    data = _batch(num_classes)

    model.eval()
    with torch.no_grad():
        out = model.test_step(data)
    assert len(out) == 2
    scores = torch.stack([o.pred_score for o in out])
    assert scores.shape == (2, num_classes)
    assert torch.allclose(scores.sum(1), torch.ones(2), atol=1e-4)  # average_clips='prob'

    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    before = [p.detach().clone() for p in (model.backbone.conv1.weight,
                                           model.cls_head.fc_cls.weight)]
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss_cls']) and losses['loss_cls'] > 0
    for old, new in zip(before, (model.backbone.conv1.weight, model.cls_head.fc_cls.weight)):
        assert not torch.equal(old, new)  # the backbone and the head both learned


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_mmaction_recognizer_checkpoint_gives_the_same_scores(tmp_path, name):
    """A checkpoint of mmaction2's own recognizer (its ResNet3d, ConvModule names) loads into
    ours and gives the same class scores."""
    from mmbackbones.compat.mmaction import load_recognizer_checkpoint
    from mmbackbones.config import load_config
    ours_cfg = load_config(osp.join(ROOT, CONFIGS[name]))
    if THEIRS[name] is not None:
        theirs_cfg = load_config_text(tmp_path, f'_base_ = {THEIRS[name]!r}\n')
    else:
        theirs_cfg = load_config(osp.join(ROOT, CONFIGS[name]))
        theirs_cfg.model.pop('neck')
        theirs_cfg.model.backbone.type = 'ResNet3d'  # mmaction2's, in its default scope
    theirs = _build(theirs_cfg)
    assert type(theirs.backbone).__module__.startswith('mmaction.'), type(theirs.backbone)
    randomize(theirs)
    theirs.eval()
    path = str(tmp_path / 'theirs.pth')
    torch.save({'meta': {'mmaction_version': '1.2.0'}, 'state_dict': theirs.state_dict()}, path)

    ours = _build(ours_cfg).eval()
    reports = load_recognizer_checkpoint(ours, path)
    assert reports['backbone'].layout == 'mmaction2'
    for part, report in reports.items():
        assert report.missing == [] and report.mismatched == [], (part, report)
    data = _batch(ours.cls_head.num_classes)
    with torch.no_grad():
        expected = torch.stack([o.pred_score for o in theirs.test_step(data)])
        got = torch.stack([o.pred_score for o in ours.test_step(data)])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert expected.std() > 0  # not a constant prediction


def load_config_text(tmp_path, text: str):
    from mmbackbones.config import load_config
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return load_config(str(path))


def test_select_stage_refuses_an_index_out_of_range():
    from mmbackbones.compat.mmaction import SelectStage
    with pytest.raises(IndexError, match=r'index=2.*2 outputs; allowed: -2\.\.1'):
        SelectStage(index=2)((torch.zeros(1), torch.zeros(1)))
    with pytest.raises(TypeError, match="index='last'"):
        SelectStage(index='last')


def test_mmaction_config_without_mmaction_says_what_to_install(monkeypatch, capsys):
    from conftest import assert_says_what_to_install
    assert_says_what_to_install(CONFIGS['r3d'], 'mmaction', monkeypatch, capsys)


# ------------------------------------------------------------------ the digit-clip job, short
DIGITS = osp.join(ROOT, 'configs', 'mmaction', 'digits', 'r3d-18_8xb16-8x32x32_digit-clips.py')
TINY_CLIPS = """
_base_ = {config!r}
# a quarter-width network: 48 train clips (6 steps of 8 per epoch), 24 val clips, 4 epochs
model = dict(backbone=dict(base_channels=16), cls_head=dict(in_channels=128, dropout_ratio=0.0))
generator = dict(num_train=48, num_val=24)
train_dataloader = dict(batch_size=8, dataset=dict(data_root={root!r}, generator=generator))
val_dataloader = dict(batch_size=24, dataset=dict(data_root={root!r}, generator=generator))
test_dataloader = val_dataloader
""" + short_schedule(epochs=4, start_factor=0.2, warmup_steps=4)


def test_digit_clip_job_learns_evaluates_and_reloads(tmp_path):
    import numpy as np
    from PIL import Image

    from conftest import reload_reproduces, train_job
    text = TINY_CLIPS.format(config=DIGITS, root=str(tmp_path / 'digit_clips'))
    job = train_job(tmp_path, 'tiny_clips', text, 'acc/top1', min_png=5_000)
    assert len(job.losses) == 24
    assert np.mean(job.losses[-6:]) < 0.9 * np.mean(job.losses[:6]), job.losses
    assert len(job.metrics) == 4  # mmaction2's AccMetric every epoch
    assert all(0.0 <= r['acc/top1'] <= r['acc/top5'] <= 1.0 for r in job.metrics)
    with Image.open(osp.join(job.work_dir, 'val_predictions.png')) as im:
        # 4 clips, each 8 frames of 32 px drawn 3x with 2 px gaps, under a 14 px text line
        assert im.size == (3 * (8 * 32 + 7 * 2), 4 * (3 * 32 + 14))
    reload_reproduces(job, str(tmp_path / 'test'), ('acc/top1', 'acc/top5'), 5_000)


# ------------------------------------------------------------------ which digit moves which way
MOVES = osp.join(ROOT, 'configs', 'mmaction', 'digits', 'r3d-18_8xb16-8x32x32_digit-moves.py')


def _small_digits_2d_checkpoint(path: str, steps: int = 120) -> str:
    """A quarter-width 2D ResNet-18 trained ``steps`` steps of 64 on scikit-learn's digits as
    the 2D digits job sees them (8 x 8 upscaled to 32 x 32, its grey levels, 3 channels), saved
    as a classifier checkpoint (``backbone.*``): a small stand-in for that job's checkpoint."""
    import numpy as np
    import torch.nn.functional as F

    from mmbackbones.demos.datasets.digit_canvas import source_digits
    from mmbackbones.models import ResNet
    sources = source_digits(split_seed=0)
    train = sources['train']
    images = torch.from_numpy(sources['images'][train] * 255.0)[:, None]
    x = F.interpolate(images, size=(32, 32), mode='bilinear', align_corners=False)
    x = ((x - 77.85) / 95.85).expand(-1, 3, -1, -1)
    y = torch.from_numpy(sources['targets'][train])
    torch.manual_seed(0)
    backbone, fc = ResNet(depth=18, base_channels=16), torch.nn.Linear(128, 10)
    optim = torch.optim.AdamW([*backbone.parameters(), *fc.parameters()], lr=2e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(y), 64))
        loss = F.cross_entropy(fc(backbone(x[idx])[-1].mean((2, 3))), y[idx])
        optim.zero_grad()
        loss.backward()
        optim.step()
    torch.save({'meta': {}, 'state_dict': {f'backbone.{k}': v
                                           for k, v in backbone.state_dict().items()}}, path)
    return path


def _moves_losses(cfg, batches: list[dict], steps: int) -> list[float]:
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)  # the same head (and, from scratch, the same backbone) every time
    model = _build(cfg)
    model.init_weights()
    model.train()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01))
    return [float(model.train_step(batches[i % len(batches)], optim)['loss_cls'])
            for i in range(steps)]


def test_inflated_start_learns_which_digit_moves_faster_than_scratch(tmp_path):
    """The same few training steps on the digit-moves clips (quarter width): started from a 2D
    digits checkpoint inflated with the shipped configs' method, the loss ends lower than from
    scratch."""
    from mmaction.structures import ActionDataSample

    from mmbackbones.config import load_config
    from mmbackbones.demos.datasets.digit_moves import generate
    checkpoint = _small_digits_2d_checkpoint(str(tmp_path / 'digits_2d.pth'))
    clips = list(generate('train', 96))
    batches = [dict(inputs=[torch.from_numpy(c.frames)[None, None].expand(1, 3, -1, -1, -1)
                            for c in clips[i:i + 16]],
                    data_samples=[ActionDataSample().set_gt_label(c.label)
                                  for c in clips[i:i + 16]])
               for i in range(0, len(clips), 16)]
    cfg = load_config(MOVES)
    cfg.model.backbone.base_channels = 16
    cfg.model.cls_head.update(in_channels=128, dropout_ratio=0.0)
    scratch = _moves_losses(cfg, batches, steps=12)
    cfg.model.backbone.init_cfg = dict(type='Inflate', method='center', checkpoint=checkpoint)
    inflated = _moves_losses(cfg, batches, steps=12)
    assert abs(scratch[0] - inflated[0]) < 0.5  # the same fresh head: both start near ln(40)
    assert sum(inflated[-4:]) < sum(scratch[-4:]) - 4 * 0.2, (scratch, inflated)
