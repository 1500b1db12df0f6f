# DeepLabV3+ with mmbackbones' ResNetV1c-18 D8 at half width, trained from scratch on the digit
# canvases with per-pixel masks (written on first use under data/digit_det/; see
# configs/mmseg/digits/_base_/digit_seg.py). mmsegmentation's own model, runtime, IoUMetric and
# visualizer; only the backbone type is ours.
#
#   python tools/train.py configs/mmseg/digits/deeplabv3plus_r18-v1c-d8_digits.py
#   python tools/test.py configs/mmseg/digits/deeplabv3plus_r18-v1c-d8_digits.py \
#       work_dirs/deeplabv3plus_r18-v1c-d8_digits/best_mIoU_epoch_N.pth
#
# Measured on 2 idle CPU cores (README): mIoU 81.5 (mmseg's percent) after the 12 epochs, in
# 14 minutes with the evaluations.
#
# Changes from mmseg's DeepLabV3+ R50-D8 for 16-40 px digits on a CPU: ResNetV1c-18 with
# base_channels=32 (stages of 32-256 channels) and no ImageNet weights (none can be downloaded),
# plain BN (SyncBN needs a process group), ASPP dilations 1/2/4/6 for 16 x 16 stride-8 maps of a
# 128 x 128 canvas, a narrower head (64 channels, 16 for the stride-4 shortcut).
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    './_base_/digit_seg.py',
    './_base_/digit_seg_runtime.py',
]
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
# ~94% of the pixels are background: weighting it 0.1 keeps the loss from settling on "all
# background" for the first epochs (unweighted, 2 epochs gave mIoU 8.5, every pixel background)
class_weight = [0.1] + [1.0] * 10
model = dict(
    data_preprocessor=dict(
        # grey canvases (the loader replicates them to 3 channels)
        mean=[40.0, 40.0, 40.0], std=[60.0, 60.0, 60.0], bgr_to_rgb=False, size=(128, 128)),
    pretrained=None,
    backbone=dict(
        type='mmbackbones.ResNetV1c',
        depth=18,
        base_channels=32,
        norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=256,
        channels=64,
        dilations=(1, 2, 4, 6),
        c1_in_channels=32,
        c1_channels=16,
        num_classes=11,
        norm_cfg=norm_cfg,
        loss_decode=dict(class_weight=class_weight)),
    auxiliary_head=dict(
        in_channels=128,
        channels=32,
        num_classes=11,
        norm_cfg=norm_cfg,
        loss_decode=dict(class_weight=class_weight)))
