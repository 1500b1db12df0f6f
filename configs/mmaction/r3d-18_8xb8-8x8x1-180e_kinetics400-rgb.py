# R3D-18 (torchvision's r3d_18, https://arxiv.org/abs/1711.11248) in mmaction2's R(2+1)D recipe
# (Kinetics-400, 8x8x1 clips, 180 epochs; I3DHead on 512 channels): 3x3x3 BasicBlocks, a 3x7x7
# stem without max pool, stages 2-4 stride 2 in time (configs/_base_/models/resnet3d_r3d18.py).
# Needs the mmaction tier (bash tools/install.sh --with-mmaction); Kinetics videos need decord.
_base_ = 'mmaction::recognition/r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.compat.mmaction'],
                      allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmbackbones.ResNet3d',
        depth=18,
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        with_pool1=False,
        with_pool2=False,
        temporal_strides=(1, 2, 2, 2),
        inflate=1,
        norm_eval=False,
        zero_init_residual=False,
        out_indices=(3, )),
    neck=dict(type='mmbackbones.SelectStage'))
