# Detect-and-Track with an inflated trunk, stage 2: the 3D clip detector of
# retinanet_r3d18_fpn_digit-tracks.py started from the 2D detector of stage 1, as
# Detect-and-Track starts from inflated ImageNet weights: the 2D trunk's kernels inflated over
# time with the 'center' method (the centre slice is the 2D kernel, the others zero, so the 3D
# detector starts as exactly the 2D detector run frame by frame and learns what time adds), the
# FPN and head (2D in both: they see one frame at a time) loaded as they are. 2 epochs (2,880
# steps). First run stage 1:
#   python tools/train.py configs/mmdet/tracking/retinanet_r18_fpn_2e_digit-tracks.py
#   python tools/train.py configs/mmdet/tracking/retinanet_r3d18-inflate_fpn_2e_digit-tracks.py
# Its 2D twin on the same start and schedule: retinanet_r18-continue_fpn_2e_digit-tracks.py.
# Another 2D checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH (and the neck's
# and head's).
_base_ = './retinanet_r3d18_fpn_digit-tracks.py'

start_2d = 'work_dirs/retinanet_r18_fpn_2e_digit-tracks/epoch_2.pth'
model = dict(
    backbone=dict(init_cfg=dict(_delete_=True, type='Inflate', method='center',
                                checkpoint=start_2d, prefix='backbone.')),
    neck=dict(init_cfg=dict(type='Pretrained', checkpoint=start_2d, prefix='neck.')),
    bbox_head=dict(init_cfg=dict(type='Pretrained', checkpoint=start_2d,
                            prefix='bbox_head.')))
train_cfg = dict(max_epochs=2, val_interval=1)
