# RetinaNet R50-FPN with mmbackbones' ResNet and FPN (start_level=1, extra convs on the input).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)
model = dict(
    backbone=dict(type='mmbackbones.ResNet'),
    neck=dict(type='mmbackbones.FPN', in_channels=None))
