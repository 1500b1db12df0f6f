# SGD for a total batch of 256 (8 GPUs x 32), step decay at epochs 30/60/90.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001))

param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# `--auto-scale-lr` scales lr by (actual total batch) / base_batch_size.
auto_scale_lr = dict(base_batch_size=256)
