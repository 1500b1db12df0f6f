"""The digit canvases (:mod:`.digit_canvas`) as mmdetection's ``CocoDataset``; needs mmdet.

Imported by ``mmbackbones.demos.datasets`` only where mmdetection can be imported; an mmdet
config names it ``type='mmbackbones.DigitCanvasDataset'``.
"""
from __future__ import annotations

from typing import Optional

from mmdet.datasets import CocoDataset

from ...registry import DATASETS
from .digit_canvas import prepare_digit_canvas
from .metainfo import DIGIT_METAINFO, PreparesItsFolder


@DATASETS.register_module()
class DigitCanvasDataset(PreparesItsFolder, CocoDataset):
    """Handwritten digits placed on 128 x 128 canvases, COCO boxes, 10 classes; written under
    ``data_root`` on first use (3,000 train and 500 val images with the default settings).

    Args:
        data_root: Folder of the prepared canvases (created when missing).
        split: ``'train'`` or ``'val'``.
        generator: Settings of :func:`~mmbackbones.demos.datasets.digit_canvas.prepare_digit_canvas`
            (``seed``, ``num_train``, ...); a folder prepared with other settings is an error.
        **kwargs: Passed to mmdet's ``CocoDataset`` (``pipeline``, ``indices``, ``filter_cfg``,
            ``test_mode``, ...).

    Example:
        >>> ds = DigitCanvasDataset('data/digit_det', split='val')
        >>> len(ds), ds.metainfo['classes'][:3]
        (500, ('0', '1', '2'))
    """

    METAINFO = DIGIT_METAINFO
    sets_itself = ('ann_file', 'data_prefix', 'metainfo')

    def __init__(self, data_root: str = 'data/digit_det', split: str = 'train',
                 generator: Optional[dict] = None, **kwargs) -> None:
        self.check_and_prepare(prepare_digit_canvas, data_root, split, kwargs,
                               **(generator or {}))
        super().__init__(data_root=data_root, ann_file=f'annotations/{split}.json',
                         data_prefix=dict(img=f'images/{split}/'), **kwargs)
