"""Datasets for training around our backbones (registered in ``mmbackbones.registry.DATASETS``).

Importing this package imports mmpretrain; the registry imports it on first use, so
``import mmbackbones`` stays light.
"""
from .digits import DigitsDataset, prepare_digits

__all__ = ['DigitsDataset', 'prepare_digits']
