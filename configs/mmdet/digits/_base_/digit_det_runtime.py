# Schedule and hooks of the digit detection configs: mmdetection's default runtime, 10 epochs of
# AdamW from scratch (no pretrained weights can be downloaded here), COCO mAP every epoch, the
# best checkpoint kept, curves and drawn predictions in the work dir.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos'], allow_failed_imports=False)

# 10 epochs of 3,000 canvases = 3,750 steps of 8 images: RetinaNet-R18 takes 0.19 s per step
# on 2 idle cores (about 14 minutes with the evaluations; see README for the mAP it reaches).
# Another length: --cfg-options train_cfg.max_epochs=N (the cosine phase follows it).
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    # end and T_max follow train_cfg.max_epochs
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
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
