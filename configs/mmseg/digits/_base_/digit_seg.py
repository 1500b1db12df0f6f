# The digit canvas segmentation set for mmsegmentation configs: the canvases of the detection
# configs (handwritten digits of scikit-learn, real 8x8 digits upscaled to 16-40 px, 2-6 per
# 128x128 canvas with clutter) with a class per pixel: 0 background (clutter included), 1 + d on
# the ink of digit d (11 classes). 3,000 train / 500 val images, written under data_root on first
# use by mmbackbones.DigitCanvasSegDataset (mmbackbones/demos/datasets/digit_seg.py): no download.
dataset_type = 'mmbackbones.DigitCanvasSegDataset'
data_root = 'data/digit_det/'
crop_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # no RandomFlip: a mirrored digit is not a digit (and 2/5, 6/9 would swap)
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=16,
    # the canvases are small PNGs: the main process loads them faster than worker processes
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=25,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
