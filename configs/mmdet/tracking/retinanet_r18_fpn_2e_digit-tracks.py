# Stage 1 of the inflated Detect-and-Track job: the frame-by-frame 2D detector
# (retinanet_r18_fpn_digit-tracks.py) trained for 2 epochs (2,880 steps) from scratch on the same
# videos. Its checkpoint is the 2D start of both stage-2 configs:
#   retinanet_r3d18-inflate_fpn_2e_digit-tracks.py (the 3D trunk inflated from it)
#   retinanet_r18-continue_fpn_2e_digit-tracks.py  (the 2D twin, continued from it)
# The job's time is both stages together (docs/tracking.md).
#   python tools/train.py configs/mmdet/tracking/retinanet_r18_fpn_2e_digit-tracks.py
_base_ = './retinanet_r18_fpn_digit-tracks.py'

# evaluated once, at the end (the 2D start's quality goes into docs/tracking.md)
train_cfg = dict(max_epochs=2, val_interval=2)
