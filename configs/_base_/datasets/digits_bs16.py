# scikit-learn's 8x8 handwritten digits (10 classes, 1,437 train / 360 val), shipped inside
# scikit-learn and written as an image folder under data_root on first use: no download.
dataset_type = 'DigitsDataset'
data_root = 'data/digits'
data_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=10,
    # grey levels of the digits (replicated to 3 channels by LoadImageFromFile)
    mean=[77.85, 77.85, 77.85],
    std=[95.85, 95.85, 95.85],
)

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(32, 32)),
    # small shifts: the digits are centred in their 8x8 box
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=2),
    dict(type='mmpretrain.PackInputs'),
]

test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.Resize', scale=(32, 32)),
    dict(type='mmpretrain.PackInputs'),
]

train_dataloader = dict(
    batch_size=16,
    # the images are tiny: loading them in the main process is faster than worker processes
    num_workers=0,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
