"""The digit canvases (:mod:`.digit_canvas`) with per-pixel masks as an mmsegmentation dataset.

Imported by ``mmbackbones.demos.datasets`` only where mmsegmentation can be imported; an
mmseg config names it ``type='mmbackbones.DigitCanvasSegDataset'``.
"""
from __future__ import annotations

from typing import Optional

from mmseg.datasets import BaseSegDataset

from ...registry import DATASETS
from .digit_canvas import prepare_digit_canvas
from .metainfo import DIGIT_SEG_METAINFO, PreparesItsFolder


@DATASETS.register_module()
class DigitCanvasSegDataset(PreparesItsFolder, BaseSegDataset):
    """Handwritten digits on 128 x 128 canvases with a class per pixel: 0 background (clutter
    included), ``1 + d`` on the ink of digit ``d`` (11 classes). The same canvases as
    :class:`~mmbackbones.demos.datasets.digit_det.DigitCanvasDataset`; the masks are written
    into the folder on first use (3,000 train and 500 val images with the default settings).

    Args: those of ``DigitCanvasDataset`` (a ``data_root`` without masks is given them), but
    ``**kwargs`` go to mmseg's ``BaseSegDataset`` (``pipeline``, ``indices``, ``test_mode``, ...).

    Example:
        >>> ds = DigitCanvasSegDataset('data/digit_det', split='val')
        >>> len(ds), ds.metainfo['classes'][:3]
        (500, ('background', '0', '1'))
    """

    METAINFO = DIGIT_SEG_METAINFO
    sets_itself = ('ann_file', 'data_prefix', 'metainfo', 'img_suffix', 'seg_map_suffix',
                   'reduce_zero_label')

    def __init__(self, data_root: str = 'data/digit_det', split: str = 'train',
                 generator: Optional[dict] = None, **kwargs) -> None:
        self.check_and_prepare(prepare_digit_canvas, data_root, split, kwargs, masks=True,
                               **(generator or {}))
        super().__init__(data_root=data_root, img_suffix='.png', seg_map_suffix='.png',
                         data_prefix=dict(img_path=f'images/{split}',
                                          seg_map_path=f'masks/{split}'),
                         reduce_zero_label=False, **kwargs)
