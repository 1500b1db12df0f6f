# RetinaNet with mmbackbones' Res2Net-50 at half width (stem and stages from 32 channels, 14 px
# per scale, 4 scales; v1b: deep stem + avg-down shortcuts) and FPN, trained from scratch on the
# digit canvases. Otherwise as retinanet_r18_fpn_digits.py.
#
#   python tools/train.py configs/mmdet/digits/retinanet_res2net-w14-s4-c32_fpn_digits.py
_base_ = './retinanet_r18_fpn_digits.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmbackbones.Res2Net',
        depth=50,
        scales=4,
        base_width=14,
        base_channels=32,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None))
