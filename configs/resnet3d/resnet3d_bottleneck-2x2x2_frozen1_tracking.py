# The seed's tracking backbone: "a ResNet-18-sized 3D network built from bottleneck blocks (two
# per stage) that stops after the fourth conv stage, with the early stages frozen".
# Our reading: conv stage 1 is the stem (conv1 + max pool); conv stages 2-4 are three residual
# stages of two 3D Bottlenecks each (stage_blocks=(2, 2, 2), num_stages=3, widths 256/512/1024);
# the output is the fourth conv stage (layer3, stride 16); "early stages frozen" is the stem and
# the first residual stage (frozen_stages=1), with BN statistics kept (norm_eval=True) as
# trackers fine-tune with small batches.
model = dict(
    type='ResNet3d',
    depth=50,
    stage_blocks=(2, 2, 2),
    num_stages=3,
    out_indices=(2, ),
    conv1_kernel=(3, 7, 7),
    inflate=1,
    inflate_style='3x1x1',
    frozen_stages=1,
    norm_eval=True)
