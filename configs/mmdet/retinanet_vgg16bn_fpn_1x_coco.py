# RetinaNet with mmbackbones' VGG-16-BN as backbone: its last three conv stages (strides 8, 16,
# 32) feed our FPN, which adds two extra levels, matching RetinaNet's anchor strides 8..128.
_base_ = './retinanet_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmbackbones.VGG',
        depth=16,
        norm_cfg=dict(type='BN', requires_grad=True),
        out_indices=(2, 3, 4),
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://vgg16_bn')),
    neck=dict(in_channels=None, start_level=0, add_extra_convs='on_input', num_outs=5))
