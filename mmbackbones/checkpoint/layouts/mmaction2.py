"""mmaction2 recognizer checkpoints (``backbone.`` + ``cls_head.``) or backbones whose convs
are ConvModules (``conv1.conv.weight``); the renames are ResNet3d's
(``ResNet3d.foreign_key_maps``)."""
from .base import Layout, any_key, family_knows


def detect(state_dict: dict, model) -> bool:
    return family_knows(model, 'mmaction2') and (
        any(k.startswith('cls_head.') for k in state_dict) or
        any_key(state_dict, r'(backbone\.)?conv1\.conv\.weight$'))


LAYOUT = Layout(name='mmaction2', detect=detect)
