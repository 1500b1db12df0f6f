"""mmpretrain: classifier checkpoints (``backbone.`` + ``head.``) and backbones whose deep stem
is three ConvModules (``stem.{i}.conv``); the stem rename is ResNet's
(``ResNet.foreign_key_maps``). Its VGG and plain ResNet names are ours."""
from .base import Layout, any_key


def detect(state_dict: dict, model) -> bool:
    return any(k.startswith('head.') for k in state_dict) or \
        any_key(state_dict, r'(backbone\.)?stem\.\d+\.conv\.weight$')


LAYOUT = Layout(name='mmpretrain', detect=detect)
