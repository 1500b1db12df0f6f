# The digit canvas detection set for mmdetection configs: handwritten digits of scikit-learn
# (real 8x8 digits, upscaled to 16-40 px), 2-6 per 128x128 canvas with clutter, 10 classes,
# 3,000 train / 500 val images, COCO boxes from the digits' ink. Written under data_root on
# first use by mmbackbones.DigitCanvasDataset (mmbackbones/demos/datasets/digit_canvas.py): no download.
# Another data_root: change it in the datasets and in val_evaluator.ann_file.
dataset_type = 'mmbackbones.DigitCanvasDataset'
data_root = 'data/digit_det/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    # the canvases are already at their size; Resize records scale_factor=1 for the heads.
    # No RandomFlip: a mirrored digit is not a digit (and 2/5, 6/9 would swap).
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    # the canvases are small PNGs: the main process loads them faster than worker processes
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/val.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
