# torchvision's R3D-18 (torchvision.models.video.r3d_18) as a ResNet3d: 3x3x3 BasicBlocks, a
# 3x7x7 stem without max pool, stages 2-4 stride 2 in time too. Its state dict (r3d_18 weights)
# loads through init_cfg=dict(type='Pretrained', checkpoint=...); the 400-class fc is not part of
# the backbone (33,166,272 parameters; 33,371,472 with the fc: configs/resnet3d/metafile.yml,
# r3d_18).
model = dict(
    type='ResNet3d',
    depth=18,
    conv1_kernel=(3, 7, 7),
    conv1_stride_t=1,
    with_pool1=False,
    with_pool2=False,
    temporal_strides=(1, 2, 2, 2),
    inflate=1,
    out_indices=(3, ))
