"""torchvision: ResNet/ResNeXt and GoogLeNet (our names are theirs; their ``fc`` stays
unexpected), VGG (``features`` numbered per layer) and the video ResNet ``r3d_18``.

timm's plain-stem ResNets (``resnet34``, ``res2net50_26w_4s``, ...) use the same names as
torchvision's and are reported as this layout.
"""
from __future__ import annotations

import re

from .base import Layout, any_key, is_3d, is_vgg, norm_prefix, rename


def detect(state_dict: dict, model) -> bool:
    if any_key(state_dict, r'conv1\.0\.weight$|pre_logits\.'):  # timm's deep stem / VGG head
        return False
    video_stem = state_dict.get('stem.0.weight')
    return 'fc.weight' in state_dict or any_key(state_dict, r'features\.\d+\.weight$') or \
        (is_3d(model) and video_stem is not None and video_stem.dim() == 5)


def vgg_features(state_dict: dict, model) -> dict:
    """``features.N`` numbered per layer (conv, [BN,] ReLU, ..., max pool), as torchvision and
    timm do, to ours (mmpretrain's): per ConvModule (``conv``/``bn``/``activate``) and max pool.
    Other keys are returned unchanged."""
    with_bn = 'features.1.running_mean' in state_dict
    per_conv = 3 if with_bn else 2  # conv, [bn,] relu
    index_map: dict[int, tuple[int, str]] = {}
    theirs = ours = 0
    for num_convs in model.arch_settings[model.depth]:
        for _ in range(num_convs):
            norm_name = getattr(model.features[ours], 'norm_name', 'bn') \
                if ours < len(model.features) else 'bn'
            index_map[theirs] = (ours, 'conv')
            if with_bn:
                index_map[theirs + 1] = (ours, norm_name)
            theirs += per_conv
            ours += 1
        theirs += 1  # max pool
        ours += 1

    def move(m: re.Match) -> str:
        if int(m[1]) not in index_map:
            return m[0]
        idx, name = index_map[int(m[1])]
        return f'features.{idx}.{name}.'

    return rename(state_dict, [(r'^features\.(\d+)\.', move)])


def r3d_rules(norm: str) -> list:
    """torchvision's video ResNet: the stem ``stem.0/1`` and each ``conv<i>`` a Sequential of
    conv + norm (``conv<i>.0/1``); the shortcut is ``downsample.0/1`` as ours."""
    return [(r'^stem\.0\.', 'conv1.'), (r'^stem\.1\.', f'{norm}1.'),
            (r'(^|\.)conv(\d+)\.0\.', r'\1conv\2.'), (r'(^|\.)conv(\d+)\.1\.', rf'\1{norm}\2.')]


def convert(state_dict: dict, model) -> dict:
    if is_vgg(model):
        return vgg_features(state_dict, model)
    if is_3d(model):
        return rename(state_dict, r3d_rules(norm_prefix(model)))
    return state_dict


LAYOUT = Layout(name='torchvision', detect=detect, convert=convert)
