# mmsegmentation's PSPNet ResNetV1c-50 D8 (Cityscapes 512x1024, 40k iterations) with
# mmbackbones' ResNetV1c as the backbone: the rest is mmseg's own config, unchanged. mmseg's
# model-level pretrained='open-mmlab://resnet50_v1c' reaches our backbone as its deprecated
# pretrained= alias (an init_cfg of type Pretrained), as it reaches mmseg's ResNetV1c.
_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)
model = dict(backbone=dict(type='mmbackbones.ResNetV1c'))
