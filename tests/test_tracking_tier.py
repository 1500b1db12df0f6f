"""Detect-and-Track on the digit videos with mmdetection: clips in, tracks and MOT metrics out.

Needs the tracking tier (`bash tools/install.sh --with-tracking`: mmdet + scipy, motmetrics,
trackeval) and skips with that reason without it. A short training slice proves the plumbing (the
loss falls, tools/test.py returns COCO mAP and MOTA/IDF1/HOTA, checkpoint and tracks PNG are
written); the full run is a measurement (docs/tracking.md), not a test.
"""
from __future__ import annotations

import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch

from conftest import ROOT, json_rows, tool, train_config, why_no_tracking

pytestmark = pytest.mark.skipif(why_no_tracking(with_mmdet=True) is not None,
                                reason=str(why_no_tracking(with_mmdet=True)))

CONFIG_3D = osp.join(ROOT, 'configs/mmdet/tracking/retinanet_r3d18_fpn_digit-tracks.py')
CONFIG_2D = osp.join(ROOT, 'configs/mmdet/tracking/retinanet_r18_fpn_digit-tracks.py')
CONFIG_INFLATE = osp.join(ROOT,
                          'configs/mmdet/tracking/retinanet_r3d18-inflate_fpn_2e_digit-tracks.py')
CONFIG_CONTINUE = osp.join(
    ROOT, 'configs/mmdet/tracking/retinanet_r18-continue_fpn_2e_digit-tracks.py')
GENERATOR = dict(num_train=8, num_val=2, seq_len=8)

# the tiny videos under {root}, clips every {clip_stride} frames, every box scored and tracked
TINY_DATA = """
_base_ = {config!r}
generator = {generator!r}
train_dataloader = dict(dataset=dict(data_root={root!r}, generator=generator,
                                     clip_stride={clip_stride}))
val_dataloader = dict(dataset=dict(data_root={root!r}, generator=generator))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='FrameCocoMetric', ann_file={root!r} + '/annotations/val.json', metric='bbox'),
    dict(type='MOTMetric', tracker=dict(score_thr=0.0, min_length=1))]
test_evaluator = val_evaluator
"""
# 8 train videos of 8 frames: 24 clips of 4 frames, 6 steps of 4 clips per epoch; narrow model
TINY = TINY_DATA + """
# an 18-step model scores below the shipped 0.05: keep every box, so both metrics see some
model = dict(backbone=dict(base_channels=16), neck=dict(out_channels=32),
             bbox_head=dict(in_channels=32, feat_channels=32, stacked_convs=1),
             test_cfg=dict(score_thr=0.0, max_per_img=10))
train_cfg = dict(max_epochs=3)
# fp32 on every CPU (the shipped bf16-where-native wrapper would make the slice differ by machine)
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=3)]
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0, deterministic=True)
"""


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('tracking')
    root = str(tmp / 'digit_tracks')
    config, work_dir = train_config(
        tmp, 'tiny_r3d',
        TINY.format(config=CONFIG_3D, root=root, generator=GENERATOR, clip_stride=2))
    return dict(tmp=tmp, root=root, config=config, work_dir=work_dir)


def test_training_slice_lowers_the_loss_and_validates(trained):
    rows = json_rows(trained['work_dir'], osp.join('vis_data', 'scalars.json'))
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) == 18
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4]), losses
    metrics = [r for r in rows if 'mot/MOTA' in r]
    assert len(metrics) == 3  # COCO and MOT evaluation every epoch
    for r in metrics:
        assert 0.0 <= r['coco/bbox_mAP_50'] <= 1.0
        assert r['mot/MOTA'] <= 1.0 and 0.0 <= r['mot/IDF1'] <= 1.0
        assert 0.0 <= r['mot/HOTA'] <= 1.0
    for name in ('epoch_3.pth', 'val_tracks.png', 'loss.png'):
        assert osp.getsize(osp.join(trained['work_dir'], name)) > 5_000, name


def test_tools_test_reports_coco_and_mot_metrics_and_draws_tracks(trained, capsys):
    test_dir = str(trained['tmp'] / 'test')
    ckpt = osp.join(trained['work_dir'], 'epoch_3.pth')
    preds = str(trained['tmp'] / 'preds.pkl')
    assert tool('test.py').main([trained['config'], ckpt, '--work-dir', test_dir,
                                 '--out', preds]) == 0
    printed = capsys.readouterr().out
    for key in ('coco/bbox_mAP_50', 'mot/MOTA', 'mot/IDF1', 'mot/HOTA', 'mot/IDSW'):
        assert key in printed
    tested = json_rows(test_dir, '*.json')[-1]
    logged = [r for r in json_rows(trained['work_dir'], osp.join('vis_data', 'scalars.json'))
              if 'mot/MOTA' in r][-1]
    for key in ('coco/bbox_mAP_50', 'mot/MOTA', 'mot/IDF1', 'mot/HOTA'):
        assert tested[key] == pytest.approx(logged[key]), key
    from PIL import Image
    png = Image.open(osp.join(test_dir, 'test_tracks.png'))
    assert png.width >= 8 * 96 * 3 and png.height >= 2 * 96 * 3  # 8 frames x 2 videos
    assert not [f for f in os.listdir(test_dir) if '.tmp' in f]
    # --out dumps every frame of the val videos (not one sample per clip), which the
    # breakdown tool reads
    import pickle
    with open(preds, 'rb') as f:
        frames = pickle.load(f)
    n = GENERATOR['num_val'] * GENERATOR['seq_len']
    assert len(frames) == n and len({fr['img_path'] for fr in frames}) == n
    assert tool('analysis_tools/tracking_breakdown.py').main([f'3D={preds}']) == 0
    assert '| all |' in capsys.readouterr().out


def _mmdet_models():
    """mmdet's MODELS with mmdet's modules and our ClipDetector registered."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import mmbackbones.demos.tracking  # noqa: F401  (registers ClipDetector)
    register_all_modules()
    return MODELS


def _build(config: str, **backbone):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.model.backbone.update(backbone)
    return _mmdet_models().build(cfg.model)


@pytest.mark.parametrize('config, temporal', [(CONFIG_3D, True), (CONFIG_2D, False)])
def test_clip_and_frame_backbones_give_per_frame_features(config, temporal):
    model = _build(config, base_channels=16).eval()
    assert model.temporal is temporal
    clips = torch.rand(2, 4, 3, 96, 96)
    with torch.no_grad():
        feats = model.extract_feat(clips)
    assert [tuple(f.shape) for f in feats] == [(8, 96, 12, 12), (8, 96, 6, 6), (8, 96, 3, 3)]
    # the 3D backbone mixes neighbouring frames, the 2D one does not
    changed = clips.clone()
    changed[0, 1] = 0
    with torch.no_grad():
        other = model.extract_feat(changed)
    frame0_moved = not torch.allclose(feats[0][0], other[0][0])
    assert frame0_moved is temporal
    assert torch.allclose(feats[0][4:], other[0][4:])  # the other clip is untouched


def test_clip_detector_refuses_bad_input():
    with pytest.raises(ValueError, match='with_pool2=False'):
        _build(CONFIG_3D, with_pool2=True)
    model = _build(CONFIG_3D, base_channels=16)
    with pytest.raises(ValueError, match='N x T x C x H x W'):
        model.extract_feat(torch.rand(2, 3, 96, 96))


def test_clip_dataset_clips_and_errors(tmp_path):
    from mmbackbones.demos.tracking import DigitTrackClipDataset
    root = str(tmp_path / 'tracks')
    ds = DigitTrackClipDataset(root, split='val', clip_len=4, test_mode=True,
                               generator=GENERATOR)
    assert len(ds) == 4  # 2 videos of 8 frames in clips of 4
    item = ds[1]
    assert tuple(item['inputs'].shape) == (4, 3, 96, 96) and item['inputs'].dtype == torch.uint8
    frames = item['data_samples'].video_data_samples
    assert [f.frame_id for f in frames] == [4, 5, 6, 7] and {f.video_id for f in frames} == {0}
    assert all(len(f.gt_instances.bboxes) == len(f.gt_instances.instances_ids) for f in frames)
    train = DigitTrackClipDataset(root, split='train', clip_len=4, clip_stride=2,
                                  generator=GENERATOR)
    assert len(train) == 8 * 3
    with pytest.raises(ValueError, match='clip_stride=2 must equal clip_len=4'):
        DigitTrackClipDataset(root, split='val', clip_len=4, clip_stride=2, test_mode=True,
                              generator=GENERATOR)
    with pytest.raises(ValueError, match='must divide the video length'):
        DigitTrackClipDataset(root, split='val', clip_len=3, test_mode=True,
                              generator=GENERATOR)
    with pytest.raises(ValueError, match="split='test'"):
        DigitTrackClipDataset(root, split='test', generator=GENERATOR)
    with pytest.raises(TypeError, match='sets pipeline itself'):
        DigitTrackClipDataset(root, pipeline=[], generator=GENERATOR)


# the stage-2 configs at the tiny width, started from a tiny 2D detector checkpoint
TINY_STAGE2 = TINY_DATA + """
start_2d = {checkpoint!r}
model = dict(backbone=dict(base_channels=16, init_cfg=dict(checkpoint=start_2d)),
             neck=dict(out_channels=32, init_cfg=dict(checkpoint=start_2d)),
             bbox_head=dict(in_channels=32, feat_channels=32, stacked_convs=1,
                            init_cfg=dict(checkpoint=start_2d)),
             test_cfg=dict(score_thr=0.0, max_per_img=10))
train_cfg = dict(max_epochs=1)
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=1)]
default_hooks = dict(logger=dict(interval=1))
"""


def _tiny_2d_detector():
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG_2D)
    cfg.model.backbone.base_channels = 16
    cfg.model.neck.out_channels = 32
    cfg.model.bbox_head.update(in_channels=32, feat_channels=32, stacked_convs=1)
    torch.manual_seed(0)
    model = _mmdet_models().build(cfg.model)
    model.init_weights()
    return model


@pytest.mark.parametrize('config', [CONFIG_INFLATE, CONFIG_CONTINUE], ids=['inflate', 'continue'])
def test_stage2_configs_start_from_the_2d_detector_and_train(config, tmp_path):
    """The inflated Detect-and-Track config inflates every conv of the 2D detector's trunk
    ('center': it starts as that detector run frame by frame) and loads its FPN and head; the
    2D twin loads all three. Both then train and validate through tools/train.py."""
    two_d = _tiny_2d_detector().eval()
    checkpoint = str(tmp_path / 'epoch_2.pth')
    torch.save({'meta': {}, 'state_dict': two_d.state_dict()}, checkpoint)
    root = str(tmp_path / 'digit_tracks')
    text = TINY_STAGE2.format(config=config, checkpoint=checkpoint, root=root,
                              generator=GENERATOR, clip_stride=4)
    config_file, work_dir = train_config(tmp_path, 'stage2', text)

    from mmengine.config import Config
    model = _mmdet_models().build(Config.fromfile(config_file).model)
    model.init_weights()
    model.eval()
    ours, theirs = dict(model.named_parameters()), dict(two_d.named_parameters())
    inflated = config == CONFIG_INFLATE
    for name in [n for n in theirs if not (inflated and n.startswith('backbone.'))]:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=0, msg=name)
    convs = [n for n, m in model.backbone.named_modules() if isinstance(m, torch.nn.Conv3d)]
    assert len(convs) == (20 if inflated else 0)
    for name in convs:  # every 3D conv: the 2D kernel in the centre, zeros around it
        weight, kernel = ours[f'backbone.{name}.weight'], theirs[f'backbone.{name}.weight']
        centre = weight.shape[2] // 2
        torch.testing.assert_close(weight[:, :, centre], kernel, rtol=0, atol=0, msg=name)
        assert not weight[:, :, :centre].any() and not weight[:, :, centre + 1:].any(), name
    clips = torch.rand(2, 4, 3, 96, 96)
    with torch.no_grad():
        for a, b in zip(model.extract_feat(clips), two_d.extract_feat(clips)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

    rows = json_rows(work_dir, osp.join('vis_data', 'scalars.json'))
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) == 4 and all(np.isfinite(losses)), losses  # 16 clips, 4 per step
    assert [r for r in rows if 'mot/MOTA' in r]
    with open(sorted(glob.glob(osp.join(work_dir, '*', '*.log')))[-1]) as f:
        log = f.read()
    if inflated:
        assert "with method 'center'" in log and 'inflated (2D kernel -> 3D): 20' in log
