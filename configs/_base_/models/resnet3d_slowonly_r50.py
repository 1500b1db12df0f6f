# SlowOnly ResNet-50 backbone (mmaction2 `_base_/models/slowonly_r50.py`: ResNet3dSlowOnly with
# lateral=False is this ResNet3d): no temporal kernel in the stem and stages 1-2, no pool2.
# 31,634,496 parameters (configs/resnet3d/metafile.yml, slowonly_r50).
model = dict(
    type='ResNet3d',
    depth=50,
    pretrained='https://download.pytorch.org/models/resnet50-11ad3fa6.pth',
    conv1_kernel=(1, 7, 7),
    conv1_stride_t=1,
    pool1_stride_t=1,
    inflate=(0, 0, 1, 1),
    with_pool2=False,
    norm_eval=False)
