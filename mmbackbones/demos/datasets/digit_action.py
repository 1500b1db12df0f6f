"""The moving-digit clip sets (:mod:`.digit_clips`, :mod:`.digit_moves`) as mmaction2 datasets.

Imported by ``mmbackbones.demos.datasets`` only where mmaction2 can be imported; an mmaction2 config
names them ``type='mmbackbones.DigitClipDataset'`` (the direction of motion, 8 classes) and
``type='mmbackbones.DigitMovesDataset'`` (which digit moves which way, 40 classes). No video
decoding: the frames are read from the prepared ``clips.npy`` (memory-mapped) and handed to the
pipeline as ``imgs`` (``T x H x W x 3`` uint8, the grey level in all three channels, like the 2D
digits), with ``num_clips=1`` and ``clip_len=T`` for mmaction2's ``FormatShape``.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional

import numpy as np
from mmaction.datasets import BaseActionDataset

from ...registry import DATASETS
from . import digit_clips, digit_moves
from .metainfo import PreparesItsFolder


@DATASETS.register_module()
class DigitClipDataset(PreparesItsFolder, BaseActionDataset):
    """Clips of one handwritten digit moving in one of 8 directions; the class is the
    direction (:data:`~mmbackbones.demos.datasets.digit_clips.CLASSES`). 800 train and 240 val clips
    of 8 frames of 32 x 32 px with the default settings, written on first use.

    Args:
        data_root: Folder of the prepared clips (created when missing).
        split: ``'train'`` or ``'val'``.
        generator: Settings of the generator's ``prepare_*`` function
            (:func:`~mmbackbones.demos.datasets.digit_clips.prepare_digit_clips`: ``seed``,
            ``num_train``, ``num_frames``, ...); a folder prepared with other settings is an
            error.
        **kwargs: Passed to mmaction2's ``BaseActionDataset`` (``pipeline``, ``indices``,
            ``test_mode``, ...).

    Example:
        >>> ds = DigitClipDataset('data/digit_clips', split='val', pipeline=[])
        >>> len(ds), ds[0]['imgs'].shape, ds.metainfo['classes'][:2]
        (240, (8, 32, 32, 3), ('right', 'up-right'))
    """

    METAINFO = dict(classes=digit_clips.CLASSES)
    #: The generator's functions: write the folder unless it is there, read a split; and which
    #: classes look the same in a single frame (``tools/analysis_tools/clip_time_controls.py``).
    prepare = staticmethod(digit_clips.prepare_digit_clips)
    load_split = staticmethod(digit_clips.load_split)
    frame_groups = digit_clips.FRAME_GROUPS

    sets_itself = ('ann_file', 'data_prefix', 'metainfo', 'multi_class', 'num_classes',
                   'modality')

    def __init__(self, data_root: str = 'data/digit_clips', split: str = 'train',
                 generator: Optional[dict] = None, **kwargs) -> None:
        self.check_and_prepare(self.prepare, data_root, split, kwargs, **(generator or {}))
        self.split = split
        self._clips = None
        super().__init__(ann_file=osp.join(data_root, split, 'annotations.json'),
                         data_root=data_root, data_prefix=dict(prefix=''),
                         num_classes=len(self.METAINFO['classes']), **kwargs)

    def load_data_list(self) -> list[dict]:
        self._clips, annotations = self.load_split(self.data_root, self.split)
        return [dict(clip_index=i, label=a['label'], frame_dir=f'{self.split}/clips.npy#{i}')
                for i, a in enumerate(annotations)]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        frames = np.asarray(self._clips[info['clip_index']])
        info['imgs'] = np.repeat(frames[..., None], 3, axis=-1)  # T x H x W x 3
        info.update(num_clips=1, clip_len=frames.shape[0], total_frames=frames.shape[0],
                    img_shape=frames.shape[1:], original_shape=frames.shape[1:])
        return info


@DATASETS.register_module()
class DigitMovesDataset(DigitClipDataset):
    """Which digit moves which way (:mod:`~mmbackbones.demos.datasets.digit_moves`, 40
    classes), as :class:`DigitClipDataset` (``generator``: the settings of
    :func:`~mmbackbones.demos.datasets.digit_moves.prepare_digit_moves`)."""

    METAINFO = dict(classes=digit_moves.CLASSES)
    prepare = staticmethod(digit_moves.prepare_digit_moves)
    load_split = staticmethod(digit_moves.load_split)
    frame_groups = digit_moves.FRAME_GROUPS

    def __init__(self, data_root: str = 'data/digit_moves', split: str = 'train',
                 generator: Optional[dict] = None, **kwargs) -> None:
        super().__init__(data_root, split, generator, **kwargs)
