# Res2Net-101 26w4s classifier, v1b (deep stem, AvgPool shortcuts; timm res2net101d):
# our backbone inside mmpretrain's ImageClassifier. stride1_pool=True keeps the original
# Res2Net's stride-1 average pool in the first block of layer1, so the official, mmpretrain
# and timm ImageNet weights reproduce; mmdet's weights need the backbone default (False).
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='mmbackbones.Res2Net',
        depth=101,
        scales=4,
        base_width=26,
        deep_stem=True,
        avg_down=True,
        stride1_pool=True,
        out_indices=(3, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
