# ResNetV1c-101 classifier: our backbone inside mmpretrain's ImageClassifier.
_base_ = './resnet50.py'
model = dict(backbone=dict(type='ResNetV1c', depth=101))
