# RetinaNet with mmbackbones' Res2Net-50 26w4s (v1b) and FPN.
_base_ = './retinanet_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        type='mmbackbones.Res2Net',
        depth=50,
        scales=4,
        base_width=26,
        deep_stem=True,
        avg_down=True,
        init_cfg=None))
