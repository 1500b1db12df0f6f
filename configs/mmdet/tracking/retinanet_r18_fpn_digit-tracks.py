# The frame-by-frame baseline of retinanet_r3d18_fpn_digit-tracks.py: the same data, clips,
# neck, head, schedule and tracker, but a 2D ResNet-18 (same width, 32-256 channels) that sees
# every frame alone (ClipDetector folds the clip into the batch before the backbone).
#
#   python tools/train.py configs/mmdet/tracking/retinanet_r18_fpn_digit-tracks.py
_base_ = './retinanet_r3d18_fpn_digit-tracks.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.engine', 'mmbackbones.demos'],
                      allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmbackbones.ResNet',
        depth=18,
        base_channels=32,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None))
