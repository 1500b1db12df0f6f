"""mmaction2 ``ResNet3d`` (recognizer checkpoints: ``backbone.`` + ``cls_head.``): every conv is
a ConvModule (``conv1.conv``/``conv1.bn``, ``layer1.0.conv2.conv``, ``downsample.conv/bn``) and
the non-local plugin is ``non_local_block``; ours are the 2D ResNet's names (``conv1``/``bn1``,
``downsample.0/1``) and mmcv's ``non_local3d``."""
from .base import Layout, any_key, is_3d, norm_prefix, rename


def rules(norm: str) -> list:
    return [(r'(^|\.)conv(\d+)\.conv\.', r'\1conv\2.'),
            (r'(^|\.)conv(\d+)\.(?:bn|gn|ln|in)\.', rf'\1{norm}\2.'),
            (r'\.downsample\.conv\.', '.downsample.0.'),
            (r'\.downsample\.(?:bn|gn|ln|in)\.', '.downsample.1.'),
            (r'\.non_local_block\.', '.non_local3d.')]


def detect(state_dict: dict, model) -> bool:
    return is_3d(model) and (any(k.startswith('cls_head.') for k in state_dict) or
                             any_key(state_dict, r'(backbone\.)?conv1\.conv\.weight$'))


def convert(state_dict: dict, model) -> dict:
    return rename(state_dict, rules(norm_prefix(model)))


LAYOUT = Layout(name='mmaction2', detect=detect, convert=convert)
