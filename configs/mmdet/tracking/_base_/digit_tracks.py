# The digit tracking videos for mmdetection configs: 1,920 train / 12 val videos of 24 frames,
# 96x96, 2-5 handwritten digits of scikit-learn per video moving, bouncing, crossing, occluding
# each other, entering and leaving; static clutter. MOTChallenge + COCO-video ground truth, written
# under data_root on first use (mmbackbones/demos/datasets/digit_tracks.py): no download.
# Items are clips of clip_len frames (mmbackbones.DigitTrackClipDataset); the evaluation scores
# every frame once (clips tiling the videos): COCO bbox mAP per frame (mmdet's CocoMetric, as FrameCocoMetric) and
# MOTA/IDF1/HOTA of the tracks (MOTMetric: IoUTracker + motmetrics/trackeval).
# Another data_root: change it in the datasets and in val_evaluator[0].ann_file.
dataset_type = 'mmbackbones.DigitTrackClipDataset'
data_root = 'data/digit_tracks/'
clip_len = 4

train_dataloader = dict(
    batch_size=4,  # clips: 16 frames per step
    num_workers=0,  # small PNGs: the main process loads them faster than workers
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        clip_len=clip_len,
        clip_stride=8,  # clips at frames 0, 8, 16 of every video: 5,760 clips
        reverse_prob=0.5))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        clip_len=clip_len,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = [
    # mmdet's CocoMetric over every frame of the clips
    dict(type='FrameCocoMetric', ann_file=data_root + 'annotations/val.json', metric='bbox',
         format_only=False),
    # Detect-and-Track's linking: Hungarian matching on box IoU, frame by frame over each video
    # (so across the clips' borders as inside them)
    dict(type='MOTMetric',
         tracker=dict(score_thr=0.4, iou_thr=0.3, max_age=2, min_length=3, nms_iou_thr=0.7,
                      motion=True, class_aware=False)),
]
test_evaluator = val_evaluator
