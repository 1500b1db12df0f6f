_base_ = [
    '../_base_/models/googlenet.py', '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py', '../_base_/default_runtime.py'
]

# no BN: VGG's lr of 0.01 rather than the BN networks' 0.1 (our choice; the paper's own schedule
# was asynchronous SGD, lr -4% every 8 epochs)
optim_wrapper = dict(optimizer=dict(lr=0.01))
