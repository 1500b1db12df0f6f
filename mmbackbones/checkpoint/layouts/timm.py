"""timm: recognised by its ResNet-C/D deep stem (``conv1.0.weight``) or its VGG head
(``pre_logits.fc1``). The renames are the families' (``ResNet.foreign_key_maps``,
``VGG.foreign_key_maps``). timm's avg-down shortcuts (an Identity at ``downsample.0`` where the
stage does not stride) are aligned by the shared core, as for mmpretrain's Res2Net."""
from .base import Layout, any_key


def detect(state_dict: dict, model) -> bool:
    return any_key(state_dict, r'conv1\.0\.weight$|pre_logits\.fc1\.')


LAYOUT = Layout(name='timm', detect=detect)
