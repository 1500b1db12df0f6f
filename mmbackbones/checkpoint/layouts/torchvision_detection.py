"""torchvision detection models (Faster/Mask R-CNN, RetinaNet, ... with ``resnet_fpn_backbone``):
the ResNet body is under ``backbone.body.``, next to ``backbone.fpn``, ``rpn`` and ``roi_heads``
(or ``head``). Its names are torchvision's ResNet names, which are ours; its FrozenBatchNorm2d
(eps 1e-5) keeps the four BN tensors, so our BN in eval mode computes the same."""
from .base import Layout


def detect(state_dict: dict, model) -> bool:
    keys = list(state_dict)
    return any(k.startswith('backbone.body.') for k in keys) and \
        any(k.startswith(('rpn.', 'roi_heads.', 'head.')) for k in keys)


LAYOUT = Layout(name='torchvision_detection', detect=detect, prefixes=('backbone.body.', ))
