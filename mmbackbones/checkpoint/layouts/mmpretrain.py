"""mmpretrain: classifier checkpoints (``backbone.`` + ``head.``) and backbones whose deep stem
is three ConvModules (``stem.{i}.conv``/``stem.{i}.bn``; ours is one flat Sequential
``stem.0..8`` as mmdet's). Its VGG and plain ResNet names are ours."""
from .base import Layout, any_key, rename

# stem.{i}.conv -> stem.{3i}, stem.{i}.<norm> -> stem.{3i+1} (conv, norm, ReLU per ConvModule)
RULES = [(r'^stem\.(\d+)\.(conv|bn|gn|ln|in)\.',
          lambda m: f'stem.{3 * int(m[1]) + (m[2] != "conv")}.')]


def detect(state_dict: dict, model) -> bool:
    return any(k.startswith('head.') for k in state_dict) or \
        any_key(state_dict, r'(backbone\.)?stem\.\d+\.conv\.weight$')


def convert(state_dict: dict, model) -> dict:
    return rename(state_dict, RULES)


LAYOUT = Layout(name='mmpretrain', detect=detect, convert=convert)
