# I3D ResNet-50 backbone: mmaction2 1.x `_base_/models/i3d_r50.py`'s backbone dict, unchanged but
# for `type`. In an mmaction2 recognizer config use it as
# `backbone=dict(type='mmbackbones.ResNet3d', ...)` with custom_imports=dict(imports=['mmbackbones']).
# `pretrained` + `pretrained2d=True`: init_weights() inflates torchvision's 2D ResNet-50 ('mean').
# 27,223,872 parameters (configs/resnet3d/metafile.yml, i3d_r50).
model = dict(
    type='ResNet3d',
    pretrained2d=True,
    pretrained='torchvision://resnet50',
    depth=50,
    conv1_kernel=(5, 7, 7),
    conv1_stride_t=2,
    pool1_stride_t=2,
    conv_cfg=dict(type='Conv3d'),
    norm_eval=False,
    inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
    zero_init_residual=False)
