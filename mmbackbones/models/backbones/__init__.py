from .base import BaseBackbone, FeatureSpec
from .resnet import ResNet, ResNet_CIFAR, ResNetV1c, ResNetV1d

__all__ = ['BaseBackbone', 'FeatureSpec', 'ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNet_CIFAR']
