"""The demo tasks: jobs that learn offline on data that ships inside scikit-learn.

A wing of its own above the library: the backbones, the weights wing, deploy and the engine never
import it; configs do, through ``custom_imports=dict(imports=['mmbackbones.demos'])``. Importing
it registers, in mmbackbones' registries, what the installed OpenMMLab libraries allow:

* always: :class:`~.datasets.digits.DigitsDataset` (mmpretrain; the README's main job) and the
  generators of the digit canvases, direction clips and tracking videos (numpy, Pillow,
  scikit-learn only);
* with mmdet (full mmcv): the detection set, the Detect-and-Track clips, clip detector, metrics
  and hooks (:mod:`.tracking`);
* with mmsegmentation: the segmentation set; with mmaction2: the clip recognition set.
"""
from . import datasets, tracking
from .available import HAS_MMACTION, HAS_MMDET, HAS_MMSEG

__all__ = ['HAS_MMACTION', 'HAS_MMDET', 'HAS_MMSEG', 'datasets', 'tracking']
