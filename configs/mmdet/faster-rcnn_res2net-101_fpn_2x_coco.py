# mmdet's faster-rcnn_res2net-101_fpn_2x_coco.py with our Res2Net: the backbone keys are mmdet's
# unchanged; like mmdet's, our Res2Net defaults to v1b (deep stem + avg-down shortcuts).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        type='mmbackbones.Res2Net',
        depth=101,
        scales=4,
        base_width=26,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://res2net101_v1d_26w_4s')),
    neck=dict(type='mmbackbones.FPN', in_channels=None))
