# Which digit moves which way (r3d-18_8xb16-8x32x32_digit-moves.py), started from the 2D digits
# job's ResNet-18, its 2D kernels inflated over time with the 'repeat' method
# (mmbackbones.checkpoint.inflate; docs/video.md compares the methods and mmaction2's own).
# First train the 2D job: python tools/train.py configs/resnet/resnet18_8xb16_digits.py
# Another 2D checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './r3d-18_8xb16-8x32x32_digit-moves.py'
model = dict(backbone=dict(init_cfg=dict(
    _delete_=True, type='Inflate', method='repeat',
    checkpoint='work_dirs/resnet18_8xb16_digits/best_accuracy_top1_epoch_5.pth')))
