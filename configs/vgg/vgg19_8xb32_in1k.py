_base_ = [
    '../_base_/models/vgg19.py', '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py', '../_base_/default_runtime.py'
]

# without BN, VGG diverges at the base lr of 0.1 (mmpretrain uses 0.01 too)
optim_wrapper = dict(optimizer=dict(lr=0.01))
