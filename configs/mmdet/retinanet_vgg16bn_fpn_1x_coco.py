# RetinaNet with mmbackbones' VGG-16-BN as backbone: its last three conv stages (strides 8, 16,
# 32) feed our FPN, which adds two extra levels, matching RetinaNet's anchor strides 8..128.
# The weights are torchvision's vgg16_bn (configs/vgg/metafile.yml: vgg16_bn.tv_in1k, the file
# torchvision://vgg16_bn names, hash-checked); their normalisation is the base config's.
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
        init_cfg=dict(type='Pretrained', checkpoint='mmbackbones://vgg16_bn.tv_in1k')),
    neck=dict(in_channels=None, start_level=0, add_extra_convs='on_input', num_outs=5))
