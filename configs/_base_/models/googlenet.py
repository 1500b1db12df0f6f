# GoogLeNet as in the paper (no BN, LRN, 5x5 branch), trained with its two auxiliary
# classifiers: AuxClsHead adds 0.3 x the loss of each to the main loss in training; inference
# uses the main classifier only (the backbone does not run the auxiliary heads in eval mode).
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmbackbones.GoogLeNet', num_classes=1000, aux_logits=True),
    neck=None,
    head=dict(
        type='mmbackbones.AuxClsHead',
        aux_loss_weight=0.3,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
