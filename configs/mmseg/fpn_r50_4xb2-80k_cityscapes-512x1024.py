# mmsegmentation's Semantic FPN R50 (Cityscapes 512x1024, 80k iterations) with mmbackbones'
# ResNetV1c and FPN: the FPN reads its in_channels from the backbone built before it
# (in_channels=None), as in our mmdetection configs.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)
model = dict(
    backbone=dict(type='mmbackbones.ResNetV1c'),
    neck=dict(type='mmbackbones.FPN', in_channels=None))
