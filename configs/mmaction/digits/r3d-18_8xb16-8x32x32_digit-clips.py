# The digit-clip job: our ResNet3d (R3D-18 layout, 3x3x3 BasicBlocks, as wide as the 2D digits
# job's ResNet-18 so its checkpoint inflates into it) in mmaction2's Recognizer3D + I3DHead,
# classifying the direction a handwritten digit moves (8 classes; a single frame cannot tell
# them apart: docs/video.md). Needs the mmaction tier: bash tools/install.sh --with-mmaction.
#   python tools/train.py configs/mmaction/digits/r3d-18_8xb16-8x32x32_digit-clips.py
#   python tools/test.py configs/mmaction/digits/r3d-18_8xb16-8x32x32_digit-clips.py \
#       work_dirs/r3d-18_8xb16-8x32x32_digit-clips/best_acc_top1_epoch_N.pth
# Started from the 2D digits job (python tools/train.py configs/resnet/resnet18_8xb16_digits.py):
#   --cfg-options model.backbone.init_cfg.type=Inflate \
#       model.backbone.init_cfg.checkpoint=work_dirs/resnet18_8xb16_digits/best_...pth
#   (configs/mmaction/digits/r3d-18_inflate-center_8xb16-8x32x32_digit-clips.py does that)
_base_ = 'mmaction::_base_/default_runtime.py'
custom_imports = dict(
    imports=['mmbackbones', 'mmbackbones.compat.mmaction', 'mmbackbones.demos'],
    allow_failed_imports=False)

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='mmbackbones.ResNet3d',
        depth=18,
        # a 3x7x7 stem at stride 2 in time too (8 frames -> 4), then time halves once more in
        # stage 2 (-> 2); a temporal 3x3x3 kernel in the first block of every stage, 1x3x3 in
        # the second: what keeps a step affordable on 2 CPU cores
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=2,
        pool1_stride_t=1,
        with_pool2=False,
        inflate=((1, 0), (1, 0), (1, 0), (1, 0)),
        temporal_strides=(1, 2, 1, 1),
        zero_init_residual=False,
        out_indices=(3, ),
        init_cfg=None),
    neck=dict(type='mmbackbones.SelectStage'),
    cls_head=dict(
        type='I3DHead',
        num_classes=8,
        in_channels=512,
        spatial_type='avg',
        dropout_ratio=0.2,
        init_std=0.01,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        # the grey levels of the 2D digits job (the clips repeat the grey level in 3 channels)
        mean=[77.85, 77.85, 77.85],
        std=[95.85, 95.85, 95.85],
        format_shape='NCTHW'))

dataset_type = 'mmbackbones.DigitClipDataset'
data_root = 'data/digit_clips'
# no flips or crops: they would change the direction of the motion, i.e. the label
pipeline = [dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=pipeline))
val_dataloader = dict(
    batch_size=40,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccMetric', metric_list=('top_k_accuracy', ))
test_evaluator = val_evaluator

# 8 epochs of 800 clips = 400 steps of 16 clips (docs/video.md: time and top-1)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=8, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    # end and T_max follow train_cfg.max_epochs
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, eta_min=1e-5,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)

log_processor = dict(by_epoch=True)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=True),
    # keep the best epoch by top-1; written atomically (mmbackbones' local_atomic backend)
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1,
                    save_best='acc/top1', rule='greater',
                    backend_args=dict(backend='local_atomic')))
custom_hooks = [
    # loss.png and val_metrics.png in the work dir, rewritten every epoch
    dict(type='mmbackbones.CurvePlotHook'),
    # val_predictions.png: 4 val clips as frame strips, true and predicted direction
    dict(type='mmbackbones.PredictionPlotHook', num_images=4),
]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
