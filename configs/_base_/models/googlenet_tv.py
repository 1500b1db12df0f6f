# torchvision's GoogLeNet (BN, 3x3 branch, no LRN); its checkpoints load as they are, e.g.
# backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='mmbackbones://googlenet_tv.tv_in1k')).
# torchvision's weights expect inputs scaled to [-1, 1] (what its transform_input=True makes of
# ImageNet-normalised inputs), hence mean=std=127.5 here, as the weights entry says
# (mmbackbones.hub.data_preprocessor('googlenet_tv.tv_in1k')).
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        to_rgb=True),
    backbone=dict(type='mmbackbones.googlenet_tv', num_classes=1000),
    neck=None,
    head=dict(
        type='mmpretrain.ClsHead',
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
