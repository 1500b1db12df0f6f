# Schedule and hooks of the digit detection configs: mmdetection's default runtime, one epoch of
# AdamW from scratch (no pretrained weights can be downloaded here), COCO mAP every epoch, the
# best checkpoint kept, curves and drawn predictions in the work dir.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)

# one epoch of 3,000 canvases = 375 steps of 8 images, sized for ~15 minutes on 2 idle CPU cores
# (~4 CPU-seconds per step of RetinaNet-R18, measured on a shared machine: an estimate; the mAP
# this schedule reaches was not measured yet). A longer schedule: train_cfg.max_epochs=N with
# param_scheduler.1.end=N and param_scheduler.1.T_max=N
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=1, T_max=1, eta_min=1e-5,
         convert_to_iter_based=True),
]
# lr above is for 8 images per step; --auto-scale-lr scales it with the total batch
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    # keep the best epoch by COCO mAP; written atomically (mmbackbones' local_atomic backend)
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='coco/bbox_mAP', rule='greater',
                    backend_args=dict(backend='local_atomic')))
custom_hooks = [
    # loss.png and val_metrics.png in the work dir, rewritten every epoch
    dict(type='mmbackbones.CurvePlotHook'),
    # val_predictions.png next to them: ground truth | predictions on 4 val canvases
    dict(type='mmbackbones.PredictionPlotHook', num_images=4, pred_score_thr=0.3),
]
randomness = dict(seed=0)
