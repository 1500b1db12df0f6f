# RetinaNet with mmbackbones' ResNet-18 and FPN, trained from scratch on the digit canvases
# (handwritten digits of scikit-learn composed onto 128x128 canvases, written on first use under
# data/digit_det/; see configs/mmdet/digits/_base_/digit_det.py). mmdetection's own model,
# runtime, CocoMetric and visualizer; only the backbone and neck types are ours.
#
#   python tools/train.py configs/mmdet/digits/retinanet_r18_fpn_digits.py
#   python tools/test.py configs/mmdet/digits/retinanet_r18_fpn_digits.py \
#       work_dirs/retinanet_r18_fpn_digits/best_coco_bbox_mAP_epoch_N.pth
#
# Measured on 2 idle CPU cores (README): bbox mAP 0.879, mAP@0.5 0.975 after the 10 epochs, in
# 13 minutes with the evaluations (0.738 / 0.934 after 3 epochs).
#
# Changes from mmdet's RetinaNet-R50 for 16-40 px digits on a CPU: no ImageNet weights (none can
# be downloaded here), so BN trains (norm_eval=False) and no stage is frozen; FPN levels P3-P5
# (strides 8-32) with anchors of 16-91 px, 1-3x taller than wide, instead of 32-813 px; a
# narrower FPN and head (128 channels, 2 convs); no RandomFlip.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    './_base_/digit_det.py',
    './_base_/digit_det_runtime.py',  # 10 epochs of AdamW, hooks
]
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)

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

