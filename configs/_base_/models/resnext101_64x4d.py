# ResNeXt-101 64x4d classifier: our backbone inside mmpretrain's ImageClassifier.
_base_ = './resnext50_32x4d.py'
model = dict(backbone=dict(depth=101, groups=64))
