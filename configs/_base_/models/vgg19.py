# VGG-19 classifier (mmpretrain's layout): the backbone holds the three FC layers.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmbackbones.VGG', depth=19, num_classes=1000),
    neck=None,
    head=dict(
        type='mmpretrain.ClsHead',
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
