"""torchvision: ResNet/ResNeXt and GoogLeNet (our names are theirs; their ``fc`` stays
unexpected), VGG (``features`` numbered per layer) and the video ResNet ``r3d_18``; the VGG and
video renames are the families' (``VGG.foreign_key_maps``, ``ResNet3d.foreign_key_maps``).

timm's plain-stem ResNets (``resnet34``, ``res2net50_26w_4s``, ...) use the same names as
torchvision's and are reported as this layout.
"""
from __future__ import annotations

from .base import Layout, any_key, family_knows


def detect(state_dict: dict, model) -> bool:
    if any_key(state_dict, r'conv1\.0\.weight$|pre_logits\.'):  # timm's deep stem / VGG head
        return False
    video_stem = state_dict.get('stem.0.weight')
    return 'fc.weight' in state_dict or any_key(state_dict, r'features\.\d+\.weight$') or \
        (video_stem is not None and video_stem.dim() == 5 and family_knows(model, 'torchvision'))


LAYOUT = Layout(name='torchvision', detect=detect)
