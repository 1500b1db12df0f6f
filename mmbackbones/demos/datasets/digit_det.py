"""The digit canvases (:mod:`.digit_canvas`) as mmdetection's ``CocoDataset``; needs mmdet.

Imported by ``mmbackbones.demos.datasets`` only where mmdetection can be imported; an mmdet
config names it ``type='mmbackbones.DigitCanvasDataset'``.
"""
from __future__ import annotations

from typing import Optional

from mmdet.datasets import CocoDataset

from ...registry import DATASETS
from .digit_canvas import CLASSES, SPLITS, prepare_digit_canvas


@DATASETS.register_module()
class DigitCanvasDataset(CocoDataset):
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

    METAINFO = dict(
        classes=CLASSES,
        # matplotlib's tab10, RGB
        palette=[(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34),
                 (23, 190, 207)])

    # tools/train.py does not require data_root to exist: this class writes it.
    prepares_data_root = True

    def __init__(self, data_root: str = 'data/digit_det', split: str = 'train',
                 generator: Optional[dict] = None, **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'split={split!r} is not one of {SPLITS}.')
        for key in ('ann_file', 'data_prefix', 'metainfo'):
            if key in kwargs:
                raise TypeError(f'DigitCanvasDataset sets {key} itself; got '
                                f'{key}={kwargs[key]!r}.')
        prepare_digit_canvas(data_root, **(generator or {}))
        super().__init__(data_root=data_root, ann_file=f'annotations/{split}.json',
                         data_prefix=dict(img=f'images/{split}/'), **kwargs)
