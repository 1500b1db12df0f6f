# ResNeXt-101 32x8d classifier: our backbone inside mmpretrain's ImageClassifier.
_base_ = './resnext50_32x4d.py'
model = dict(backbone=dict(depth=101, width_per_group=8))
