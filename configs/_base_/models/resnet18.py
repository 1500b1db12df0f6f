# ResNet-18 classifier: our backbone inside mmpretrain's ImageClassifier.
_base_ = './resnet50.py'
model = dict(backbone=dict(depth=18), head=dict(in_channels=512))
