# ResNeXt-152 32x4d classifier: our backbone inside mmpretrain's ImageClassifier.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='mmbackbones.ResNeXt',
        depth=152,
        num_stages=4,
        out_indices=(3, ),
        groups=32,
        width_per_group=4,
        style='pytorch'),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
