"""mmdetection detector checkpoints: the backbone under ``backbone.``, the FPN under ``neck.``,
next to the heads. Our module names are mmdet's (``conv1``/``bn1`` or the ``stem`` Sequential,
``layer1..4``, ``downsample.0/1``, plugin and DCN names), so the key map is empty."""
from .base import Layout

#: Parts of an mmdet detector besides the backbone (a classifier has ``head.`` instead).
DETECTOR_PARTS = ('neck.', 'rpn_head.', 'roi_head.', 'bbox_head.', 'mask_head.')


def detect(state_dict: dict, model) -> bool:
    return any(k.startswith(DETECTOR_PARTS) for k in state_dict) and \
        not any(k.startswith('head.') for k in state_dict)


LAYOUT = Layout(name='mmdet', detect=detect)
