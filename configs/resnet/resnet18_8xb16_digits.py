# The embedded default job: our ResNet-18 on scikit-learn's handwritten digits, CPU, no download.
#   python tools/train.py configs/resnet/resnet18_8xb16_digits.py
_base_ = [
    '../_base_/models/resnet18.py', '../_base_/datasets/digits_bs16.py',
    '../_base_/default_runtime.py'
]
# the digits dataset lives in the demo tasks' wing, which the library itself never imports
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)

model = dict(head=dict(num_classes=10, topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True))
# 1 warm-up epoch, then cosine down to 0 over the remaining epochs (end and T_max follow
# train_cfg.max_epochs; with max_epochs=1 only the warm-up runs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, eta_min=0.0),
]
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr above is for 16 images per step (1 process); --auto-scale-lr scales it with the total batch
auto_scale_lr = dict(base_batch_size=16)

default_hooks = dict(checkpoint=dict(save_best='accuracy/top1', rule='greater'))
randomness = dict(seed=0, deterministic=False)
