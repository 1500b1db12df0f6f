# ResNeXt-152 32x4d classifier: our backbone inside mmpretrain's ImageClassifier.
_base_ = './resnext50_32x4d.py'
model = dict(backbone=dict(depth=152))
