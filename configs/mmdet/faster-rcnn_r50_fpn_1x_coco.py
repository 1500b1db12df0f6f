# Faster R-CNN R50-FPN with mmbackbones' ResNet and FPN in mmdetection's own config.
# The FPN's in_channels come from the backbone (in_channels=None).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)
model = dict(
    backbone=dict(type='mmbackbones.ResNet'),  # the rest (depth=50, frozen_stages=1, ...) inherited
    neck=dict(type='mmbackbones.FPN', in_channels=None))
