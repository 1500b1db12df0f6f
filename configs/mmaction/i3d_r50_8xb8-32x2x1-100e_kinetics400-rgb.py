# mmaction2's I3D ResNet-50 recipe (Kinetics-400, 32x2x1 clips, 100 epochs) with our ResNet3d: the
# backbone dict of mmaction2's `_base_/models/i3d_r50.py` builds unchanged but for its type
# (init_weights() inflates torchvision's ResNet-50 with the I3D 'mean' method). Needs the mmaction
# tier (bash tools/install.sh --with-mmaction); reading Kinetics videos also needs decord.
_base_ = 'mmaction::recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.compat.mmaction'],
                      allow_failed_imports=False)
model = dict(
    backbone=dict(type='mmbackbones.ResNet3d', out_indices=(3, )),
    # our backbones return a tuple of stages; mmaction2's heads take one tensor
    neck=dict(type='mmbackbones.SelectStage'))
