"""detectron2 and Caffe2 (Detectron, MSRA) ResNet checkpoints.

Names, Caffe2 (``R-50.pkl``, Detectron ``blobs``) -> detectron2 -> ours:

* ``conv1_w`` -> ``stem.conv1.weight`` -> ``conv1.weight``
* ``res_conv1_bn_s``/``_b`` -> ``stem.conv1.norm.weight``/``bias`` -> ``bn1.weight``/``bias``
* ``res2_0_branch2a_w`` (``2b``, ``2c``) -> ``res2.0.conv1.weight`` (``conv2``, ``conv3``) ->
  ``layer1.0.conv1.weight`` (``conv2``, ``conv3``)
* ``res2_0_branch2a_bn_s``/``_b`` -> ``res2.0.conv1.norm.weight``/``bias`` ->
  ``layer1.0.bn1.weight``/``bias``
* ``res2_0_branch1_w``, ``res2_0_branch1_bn_*`` -> ``res2.0.shortcut.weight``,
  ``res2.0.shortcut.norm.*`` -> ``layer1.0.downsample.0.weight``, ``layer1.0.downsample.1.*``
* ``fc1000_w`` / detectron2's ``linear.weight``: no counterpart (reported as unexpected).

The Caffe2 names follow detectron2's ``convert_basic_c2_names``
(``detectron2/checkpoint/c2_model_loading.py``). Caffe2 MSRA models have their BN folded into an
affine ``x * s + b`` (FrozenBN with only ``weight``/``bias``); we set ``running_mean = 0`` and
``running_var = 1 - eps``, so our BN computes exactly ``x * s + b``. A detectron2 FrozenBN with
statistics computes ``(x - mean) * weight / sqrt(var + 1e-5) + bias``; where our norm's eps is not
1e-5 the variance is shifted by the difference, so the features are detectron2's either way.

The MSRA ResNet-50/101 (``R-50.pkl``) put the stride in the first 1x1 conv (detectron2's
``STRIDE_IN_1X1=True``): build ours with ``style='caffe'``; their input is BGR in 0-255 minus the
Caffe means (set your data preprocessor accordingly). detectron2's own ImageNet models and the
ResNeXt ``X-101-32x8d.pkl`` stride in the 3x3 conv: ``style='pytorch'``.
"""
from __future__ import annotations

import re

import torch

from .base import Layout, any_key, norm_prefix, rename

#: Caffe2 blob names -> detectron2 names (the backbone part of ``convert_basic_c2_names``).
C2_RULES = [
    (r'_(?:bn|gn)_s$', '.norm.weight'), (r'_(?:bn|gn)_b$', '.norm.bias'),
    (r'_bn_rm$', '.norm.running_mean'), (r'_bn_riv$', '.norm.running_var'),
    (r'_w$', '.weight'), (r'_b$', '.bias'),
    (r'^(?:res_)?conv1\.', 'stem.conv1.'),
    (r'^res(\d+)_(\d+)_branch1\.', r'res\1.\2.shortcut.'),
    (r'^res(\d+)_(\d+)_branch2a\.', r'res\1.\2.conv1.'),
    (r'^res(\d+)_(\d+)_branch2b\.', r'res\1.\2.conv2.'),
    (r'^res(\d+)_(\d+)_branch2c\.', r'res\1.\2.conv3.'),
]

#: detectron2's FrozenBatchNorm2d eps (``detectron2/layers/batch_norm.py``).
DETECTRON2_BN_EPS = 1e-5


def d2_rules(norm: str) -> list:
    """detectron2 names -> ours (``norm``: ``'bn'``, ``'gn'``, ...)."""
    return [(r'^stem\.conv1\.norm\.', f'{norm}1.'), (r'^stem\.conv1\.', 'conv1.'),
            (r'^res(\d+)\.', lambda m: f'layer{int(m[1]) - 1}.'),
            (r'\.conv(\d)\.norm\.', rf'.{norm}\1.'),
            (r'\.shortcut\.norm\.', '.downsample.1.'), (r'\.shortcut\.', '.downsample.0.')]


def detect(state_dict: dict, model) -> bool:
    return any_key(state_dict, r'(backbone\.(bottom_up\.)?)?'
                               r'(stem\.conv1\.weight|res\d\.\d+\.conv1\.weight|conv1_w|'
                               r'res\d_\d+_branch2a_w)$')


def _complete_norms(state_dict: dict, model) -> dict:
    """Set running statistics where the checkpoint has none (Caffe2's folded BN: mean 0,
    var ``1 - eps``, i.e. exactly ``x * weight + bias``) and shift given variances by our eps's
    difference from detectron2's."""
    modules = dict(model.named_modules())
    out = dict(state_dict)
    for key in state_dict:
        if not key.endswith('.weight'):
            continue
        name = key[:-len('.weight')]
        norm = modules.get(name)
        if getattr(norm, 'running_var', None) is None:
            continue
        eps = norm.eps
        if f'{name}.running_var' in out:
            out[f'{name}.running_var'] = out[f'{name}.running_var'] + (DETECTRON2_BN_EPS - eps)
        else:
            out[f'{name}.running_mean'] = torch.zeros_like(norm.running_mean)
            out[f'{name}.running_var'] = torch.full_like(norm.running_var, 1.0 - eps)
    return out


def convert(state_dict: dict, model) -> dict:
    state_dict = {k: v for k, v in state_dict.items() if not k.endswith('_momentum')}
    if any(re.search(r'_w$|_bn_s$', k) for k in state_dict):
        state_dict = rename(state_dict, C2_RULES)
    return _complete_norms(rename(state_dict, d2_rules(norm_prefix(model))), model)


LAYOUT = Layout(name='detectron2', detect=detect, convert=convert,
                prefixes=('backbone.bottom_up.', ))
