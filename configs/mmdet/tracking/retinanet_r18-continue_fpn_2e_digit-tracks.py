# The 2D twin of retinanet_r3d18-inflate_fpn_2e_digit-tracks.py: the frame-by-frame 2D detector
# of stage 1 (retinanet_r18_fpn_2e_digit-tracks.py) trained 2 more epochs on the same schedule,
# so the two stage-2 detectors start from the same 2D weights and see the same steps.
#   python tools/train.py configs/mmdet/tracking/retinanet_r18-continue_fpn_2e_digit-tracks.py
_base_ = './retinanet_r18_fpn_digit-tracks.py'

start_2d = 'work_dirs/retinanet_r18_fpn_2e_digit-tracks/epoch_2.pth'
model = dict(
    backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=start_2d,
                                prefix='backbone.')),
    neck=dict(init_cfg=dict(type='Pretrained', checkpoint=start_2d, prefix='neck.')),
    bbox_head=dict(init_cfg=dict(type='Pretrained', checkpoint=start_2d,
                            prefix='bbox_head.')))
train_cfg = dict(max_epochs=2, val_interval=1)
