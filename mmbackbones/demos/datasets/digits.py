"""The embedded default dataset: scikit-learn's handwritten digits as an image folder.

scikit-learn ships the 1,797 8x8 grey-level digits of the UCI "optical recognition of handwritten
digits" set inside its wheel, so this dataset needs no download. On first use it is written as
``<data_root>/{train,val}/<class>/<index>.png`` (a stratified 80/20 split with a fixed seed), which
mmpretrain's ``CustomDataset`` reads like any image-folder dataset.
"""
from __future__ import annotations

import os
import os.path as osp

import numpy as np
from mmpretrain.datasets import CustomDataset

from ...registry import DATASETS
from ._folder import prepare_folder
from .digit_canvas import source_digits
from .metainfo import SPLITS, PreparesItsFolder
from .settings import Count, Fraction

_MARKER = 'digits.json'


def prepare_digits(data_root: str, val_fraction: float = 0.2, seed: int = 0) -> str:
    """Write the digits as an image folder under ``data_root`` unless it is already there.

    The folder is built in a temporary directory next to ``data_root`` and renamed into place, so
    concurrent callers (the processes of a distributed run) and interrupted runs never see a
    half-written dataset.

    Args:
        data_root: Where the ``train``/``val`` folders go.
        val_fraction: Fraction of each class kept for validation.
        seed: Seed of the stratified split.

    Returns:
        ``data_root``.

    Example:
        >>> root = prepare_digits('data/digits')
        >>> sorted(os.listdir(root))
        ['digits.json', 'train', 'val']
    """
    Fraction().check('val_fraction', val_fraction)
    Count(0).check('seed', seed)
    settings = dict(val_fraction=val_fraction, seed=seed)

    def write(tmp: str) -> dict:
        from PIL import Image
        from sklearn.datasets import load_digits

        digits = load_digits()
        # 0..16 grey levels to 0..255
        images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
        sources = source_digits(val_fraction, split_seed=seed)  # the stratified split
        train_idx, val_idx = sources['train'], sources['val']
        for split, idx in zip(SPLITS, (train_idx, val_idx)):
            for i in idx:
                folder = osp.join(tmp, split, str(digits.target[i]))
                os.makedirs(folder, exist_ok=True)
                Image.fromarray(images[i]).save(osp.join(folder, f'{i:04d}.png'))
        return dict(counts={split: len(idx) for split, idx in zip(SPLITS, (train_idx, val_idx))})

    prepare_folder(data_root, _MARKER, settings, write, what='digits', kind='digits',
                   maker='prepare_digits')
    return data_root


@DATASETS.register_module()
class DigitsDataset(PreparesItsFolder, CustomDataset):
    """scikit-learn's 8x8 handwritten digits, 10 classes, prepared under ``data_root`` on first
    use (1,437 training and 360 validation images).

    Args:
        data_root: Folder of the prepared image folder (created when missing).
        split: ``'train'`` or ``'val'``.
        val_fraction: Fraction of each class held out for ``'val'``.
        seed: Seed of the stratified split.
        **kwargs: Passed to mmpretrain's ``CustomDataset`` (``pipeline``, ``indices``, ...).

    Example:
        >>> ds = DigitsDataset('data/digits', split='val')
        >>> len(ds), ds.metainfo['classes'][:3]
        (360, ('0', '1', '2'))
    """

    sets_itself = ('data_prefix', 'ann_file', 'with_label')

    def __init__(self, data_root: str = 'data/digits', split: str = 'train',
                 val_fraction: float = 0.2, seed: int = 0, **kwargs) -> None:
        self.check_and_prepare(prepare_digits, data_root, split, kwargs,
                               val_fraction=val_fraction, seed=seed)
        super().__init__(data_root=data_root, data_prefix=split, **kwargs)
