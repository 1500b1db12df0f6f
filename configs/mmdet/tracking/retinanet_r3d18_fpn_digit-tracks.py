# Detect-and-Track on the digit videos: RetinaNet whose backbone is mmbackbones' 3D ResNet-18
# over clips of 4 frames (temporal stride 1, so the features keep all 4 frames), FPN and
# RetinaNet head applied to every frame (frames folded into the batch: mmdet's anchors,
# assigners, losses and NMS unchanged), tracks linked by Hungarian matching on box IoU.
# Trained from scratch.
#
#   python tools/train.py configs/mmdet/tracking/retinanet_r3d18_fpn_digit-tracks.py
#   python tools/test.py configs/mmdet/tracking/retinanet_r3d18_fpn_digit-tracks.py \
#       work_dirs/retinanet_r3d18_fpn_digit-tracks/epoch_N.pth
#
# The 3D trunk: ResNet3d depth 18 at half width (32-256 channels), the stem's 3x7x7 conv and the
# first block of stages 2-4 inflated to 3x3x3 (the others stay 1x3x3, which keeps it fast on a
# CPU), no temporal pooling. The frame-by-frame twin with a 2D ResNet-18 of the same width is
# retinanet_r18_fpn_digit-tracks.py. See docs/tracking.md for the measured mAP and MOTA.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../digits/_base_/digit_det_runtime.py',
    './_base_/digit_tracks.py',
]
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.engine', 'mmbackbones.demos'],
                      allow_failed_imports=False)

model = dict(
    type='ClipDetector',
    data_preprocessor=dict(
        _delete_=True,
        type='TrackDataPreprocessor',
        # grey frames (the loader replicates them to 3 channels)
        mean=[40.0, 40.0, 40.0], std=[60.0, 60.0, 60.0], bgr_to_rgb=False,
        pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='mmbackbones.ResNet3d',
        depth=18,
        base_channels=32,
        out_indices=(0, 1, 2, 3),
        conv1_kernel=(3, 7, 7),
        inflate=((0, 0), (1, 0), (1, 0), (1, 0)),
        with_pool2=False,  # keep T: one feature map per frame
        frozen_stages=-1,
        norm_cfg=dict(type='BN3d', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        type='mmbackbones.FPN',
        in_channels=None,  # read from the backbone: 32, 64, 128, 256
        out_channels=96,
        start_level=1,  # P3-P5: strides 8, 16, 32
        add_extra_convs=False,
        num_outs=3),
    bbox_head=dict(
        num_classes=10,
        in_channels=96,
        feat_channels=96,
        stacked_convs=2,
        anchor_generator=dict(
            type='AnchorGenerator',
            # 16, 23 px at stride 8 ... 64, 91 px at stride 32; digits are 1-3x taller than wide
            octave_base_scale=2,
            scales_per_octave=2,
            ratios=[1.0, 2.0, 3.0],
            strides=[8, 16, 32])),
    test_cfg=dict(nms_pre=1000, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=30))

# 5 epochs of 1,920 videos in clips of 4 frames every 8 frames: 1,440 steps of 4 clips (16
# frames) per epoch, 7,200 steps. Another length: --cfg-options train_cfg.max_epochs=N (the
# cosine phase follows it). Fewer videos trained for longer overfit (docs/tracking.md).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=5, val_interval=1)
# AdamW 1e-3 as the digit detection runtime (2e-3 made the focal loss climb back after warm-up),
# forward passes in bf16 where the CPU has native bf16 (1.5x faster steps here), fp32 elsewhere
optim_wrapper = dict(type='CPUAmpOptimWrapper', if_emulated='fp32')
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='coco/bbox_mAP_50', rule='greater',
                    backend_args=dict(backend='local_atomic')))
custom_hooks = [
    # loss.png and val_metrics.png in the work dir, rewritten every epoch
    dict(type='mmbackbones.CurvePlotHook'),
    # val_tracks.png (test_tracks.png with tools/test.py): tracked frames, boxes coloured by id
    dict(type='TrackPlotHook', num_videos=4, num_frames=8),
]
