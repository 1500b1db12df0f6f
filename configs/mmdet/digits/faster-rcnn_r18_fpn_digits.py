# Faster R-CNN with mmbackbones' ResNet-18 and FPN, trained from scratch on the digit canvases
# (see configs/mmdet/digits/_base_/digit_det.py). mmdetection's own two-stage model, runtime,
# CocoMetric and visualizer; only the backbone and neck types are ours.
#
#   python tools/train.py configs/mmdet/digits/faster-rcnn_r18_fpn_digits.py
#
# Changes from mmdet's Faster R-CNN R50-FPN for 16-40 px digits on a CPU: no ImageNet weights,
# so BN trains and no stage is frozen; FPN levels P2-P5 (strides 4-32, 128 channels) with RPN
# anchors of 16-128 px, 1-3x taller than wide; fewer proposals and sampled RoIs; a 256-wide box
# head; no RandomFlip. Every digit (under 112 px) is pooled from P2, as in mmdet's RoI mapping.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    './_base_/digit_det.py',
    './_base_/digit_det_runtime.py',  # 10 epochs of AdamW, hooks
]
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(
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
        num_outs=4),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        anchor_generator=dict(
            type='AnchorGenerator', scales=[4], ratios=[1.0, 2.0, 3.0],
            strides=[4, 8, 16, 32])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=128, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(in_channels=128, fc_out_channels=256, num_classes=10)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=50)))
