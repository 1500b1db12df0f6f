"""timm: ResNet-C/D deep stems (``conv1.{0,1,3,4,6}`` + ``bn1``; ours is the flat ``stem``
Sequential) and VGG heads (``pre_logits.fc1``: a 7x7 conv over the 7x7 map, ``fc2``: 1x1, and
``head.fc``; ours are the Linear ``classifier.0/3/6``). Its VGG ``features`` are numbered per
layer as torchvision's. timm's avg-down shortcuts (an Identity at ``downsample.0`` where the
stage does not stride) are aligned by the shared core, as for mmpretrain's Res2Net."""
from .base import Layout, any_key, is_vgg, rename
from .torchvision import vgg_features

DEEP_STEM_RULES = [(r'^conv1\.(\d+)\.', r'stem.\1.'), (r'^bn1\.', 'stem.7.')]
VGG_HEAD_RULES = [(r'^pre_logits\.fc1\.', 'classifier.0.'),
                  (r'^pre_logits\.fc2\.', 'classifier.3.'), (r'^head\.fc\.', 'classifier.6.')]


def detect(state_dict: dict, model) -> bool:
    return any_key(state_dict, r'conv1\.0\.weight$|pre_logits\.fc1\.')


def convert(state_dict: dict, model) -> dict:
    if is_vgg(model):
        out = rename(vgg_features(state_dict, model), VGG_HEAD_RULES)
        # conv-as-fc -> Linear: the same (C, H, W) flatten order
        return {k: v.reshape(v.shape[0], -1) if k.startswith('classifier.') and v.dim() == 4
                else v for k, v in out.items()}
    if getattr(model, 'deep_stem', False):
        return rename(state_dict, DEEP_STEM_RULES)
    return state_dict


LAYOUT = Layout(name='timm', detect=detect, convert=convert)
