# mmaction2's SlowOnly ResNet-50 recipe (Kinetics-400, 8x8x1 clips, 256 epochs) with our ResNet3d:
# mmaction2's ResNet3dSlowOnly with lateral=False is this ResNet3d (no temporal kernel in the stem
# and stages 1-2, no pool2; configs/_base_/models/resnet3d_slowonly_r50.py). Needs the mmaction
# tier (bash tools/install.sh --with-mmaction); reading Kinetics videos also needs decord.
_base_ = 'mmaction::recognition/slowonly/slowonly_r50_8xb16-8x8x1-256e_kinetics400-rgb.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.compat.mmaction'],
                      allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmbackbones.ResNet3d',
        depth=50,
        pretrained=None,
        conv1_kernel=(1, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(0, 0, 1, 1),
        with_pool2=False,
        norm_eval=False,
        out_indices=(3, )),
    neck=dict(type='mmbackbones.SelectStage'))
