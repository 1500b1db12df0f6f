# Schedule and hooks of the digit segmentation configs: mmsegmentation's default runtime, AdamW
# from scratch (no pretrained weights can be downloaded here) over whole epochs, mIoU every
# epoch, the best checkpoint kept, curves and drawn predicted masks in the work dir.
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)

# 12 epochs of 3,000 canvases = 2,256 steps of 16 images: 0.32 s per step of the DeepLabV3+
# ResNetV1c-18 config on 2 idle cores, 13 min 51 s with the evaluations (README: the mIoU).
# Another length: --cfg-options train_cfg.max_epochs=N (the cosine phase follows it).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    # end and T_max follow train_cfg.max_epochs
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
         convert_to_iter_based=True),
]
# lr above is for 16 images per step; --auto-scale-lr scales it with the total batch
auto_scale_lr = dict(enable=False, base_batch_size=16)

log_processor = dict(by_epoch=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the best epoch by mIoU; written atomically (mmbackbones' local_atomic backend)
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2,
                    save_best='mIoU', rule='greater',
                    backend_args=dict(backend='local_atomic')),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    # loss.png and val_metrics.png in the work dir, rewritten every epoch
    dict(type='mmbackbones.CurvePlotHook'),
    # val_predictions.png next to them: ground truth | predicted masks on 4 val canvases
    dict(type='mmbackbones.PredictionPlotHook', num_images=4),
]
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
