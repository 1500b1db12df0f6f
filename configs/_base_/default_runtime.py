# Unprefixed types resolve in mmbackbones' registries, then mmengine's root.
default_scope = 'mmbackbones'
custom_imports = dict(imports=['mmbackbones'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook writing every checkpoint to a temporary file and renaming it
    # (backend 'local_atomic'; mmengine's 'local' writes in place), deleting old checkpoints only
    # after the new one is written, and mending last_checkpoint before --resume reads it: a run
    # killed at any moment leaves no half-written checkpoint and loses none.
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='auto',
        backend_args=dict(backend='local_atomic')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='mmpretrain.VisualizationHook', enable=False),
)

custom_hooks = [
    # a progress bar on an interactive terminal
    dict(type='ProgressBarHook'),
    # loss.png and val_metrics.png in the work dir, rewritten every epoch
    dict(type='CurvePlotHook'),
    # random states in each checkpoint: a resumed run repeats an uninterrupted one
    dict(type='RNGStateHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches nccl to gloo when there is no GPU
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='mmpretrain.UniversalVisualizer', vis_backends=vis_backends)

log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False

randomness = dict(seed=None, deterministic=False)
