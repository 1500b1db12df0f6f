from .base import BaseBackbone, FeatureSpec
from .googlenet import GoogLeNet
from .res2net import Bottle2neck, Res2Net
from .resnet import ResNet, ResNet_CIFAR, ResNetV1c, ResNetV1d
from .resnet3d import BasicBlock3d, Bottleneck3d, ResNet3d
from .resnext import ResNeXt
from .skeleton import ResNetSkeleton
from .vgg import VGG

__all__ = ['BaseBackbone', 'FeatureSpec', 'ResNetSkeleton', 'ResNet', 'ResNetV1c', 'ResNetV1d',
           'ResNet_CIFAR', 'ResNeXt', 'Res2Net', 'Bottle2neck', 'VGG', 'GoogLeNet', 'ResNet3d',
           'BasicBlock3d', 'Bottleneck3d']
