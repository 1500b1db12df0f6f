# RetinaNet with mmbackbones' ResNet-18 and FPN, trained from scratch on the digit canvases
# (handwritten digits of scikit-learn composed onto 128x128 canvases, written on first use under
# data/digit_det/; see configs/mmdet/digits/_base_/digit_det.py). mmdetection's own model,
# runtime, CocoMetric and visualizer; only the backbone and neck types are ours.
#
#   python tools/train.py configs/mmdet/digits/retinanet_r18_fpn_digits.py
#   python tools/test.py configs/mmdet/digits/retinanet_r18_fpn_digits.py \
#       work_dirs/retinanet_r18_fpn_digits/best_coco_bbox_mAP_epoch_N.pth
#
# Changes from mmdet's RetinaNet-R50 for 10-40 px digits on a CPU: no ImageNet weights (none can
# be downloaded here), so BN trains (norm_eval=False) and no stage is frozen; FPN levels at
# strides 8-32 and anchors of 16-91 px, 1-3x taller than wide, instead of 32-813 px; a narrower FPN/head
# (128 channels, 2 convs); no RandomFlip.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    './_base_/digit_det.py',
]
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(
        # grey canvases (the loader replicates them to 3 channels)
        mean=[40.0, 40.0, 40.0], std=[60.0, 60.0, 60.0], bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        type='mmbackbones.ResNet',
        depth=18,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        type='mmbackbones.FPN',
        in_channels=None,  # read from the backbone: 64, 128, 256, 512
        out_channels=128,
        start_level=1,  # P3-P5: strides 8, 16, 32
        add_extra_convs=False,
        num_outs=3),
    bbox_head=dict(
        num_classes=10,
        in_channels=128,
        feat_channels=128,
        stacked_convs=2,
        anchor_generator=dict(
            type='AnchorGenerator',
            # 16, 23 px at stride 8 ... 64, 91 px at stride 32; digits are 1-3x taller than wide
            octave_base_scale=2,
            scales_per_octave=2,
            ratios=[1.0, 2.0, 3.0],
            strides=[8, 16, 32])),
    test_cfg=dict(nms_pre=1000, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=50))

# 2 epochs of 3,000 canvases (750 steps of 8 images) with AdamW: a short schedule from scratch
train_dataloader = dict(batch_size=8)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=2, T_max=2, eta_min=1e-5,
         convert_to_iter_based=True),
]
# lr above is for 8 images per step; --auto-scale-lr scales it with the total batch
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    # keep the best epoch by COCO mAP; written atomically (mmbackbones' local_atomic backend)
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='coco/bbox_mAP', rule='greater',
                    backend_args=dict(backend='local_atomic')))
custom_hooks = [
    # loss.png and val_metrics.png in the work dir, rewritten every epoch
    dict(type='mmbackbones.CurvePlotHook'),
    # val_predictions.png next to them: ground truth | predictions on 4 val canvases
    dict(type='mmbackbones.PredictionPlotHook', num_images=4, pred_score_thr=0.3),
]
randomness = dict(seed=0)
