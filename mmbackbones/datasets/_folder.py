"""Dataset folders that appear whole or not at all (:mod:`mmbackbones.utils.fileio`)."""
from ..utils.fileio import build_folder_atomically

__all__ = ['build_folder_atomically']
