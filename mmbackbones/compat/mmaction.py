"""mmaction2 1.2.0 from pip: a stand-in for the subpackage its wheel lacks.

The published ``mmaction2==1.2.0`` wheel ships ``mmaction/models/localizers/__init__.py``, which
runs ``from .drn.drn import DRN``, but not the ``drn`` folder itself, so ``import mmaction.models``
(and with it every mmaction2 recognizer, head and data preprocessor) fails with
``ModuleNotFoundError: No module named 'mmaction.models.localizers.drn'`` on every pip install
(upstream issue https://github.com/open-mmlab/mmaction2/issues/2714, open).

:func:`ensure_mmaction_importable` puts two small modules into ``sys.modules`` before mmaction's
models are imported: ``mmaction.models.localizers.drn`` and ``...drn.drn``, whose ``DRN`` is a
stand-in registered in mmaction's ``MODELS`` that refuses to build with this explanation. DRN (a
temporal-grounding localizer) is the only thing that stays unavailable; every other mmaction2
module is the wheel's own code. Nothing in site-packages is touched.

The fix removes itself: it does nothing when mmaction2 is not installed, when the installed
``localizers/__init__.py`` no longer imports ``.drn`` or the ``drn`` folder is there (a fixed
wheel), or when ``mmaction.models`` is already imported.

Importing this module applies the fix, so mmaction2's own tools run our configs too:
``custom_imports=dict(imports=['mmbackbones', 'mmbackbones.compat.mmaction'])``.

It also registers :class:`SelectStage`, the neck that hands one stage of our backbones' output
tuple to mmaction2's heads, which take a single tensor.
"""
from __future__ import annotations

import importlib.util
import os.path as osp
import sys
import types
from typing import Optional, Sequence

import torch
import torch.nn as nn

from ..checkpoint import load_state_dict_report, read_state_dict
from ..registry import MODELS

UPSTREAM_ISSUE = 'https://github.com/open-mmlab/mmaction2/issues/2714'
_PACKAGE = 'mmaction.models.localizers.drn'


class DRN:
    """Stand-in for mmaction2's ``DRN`` localizer, whose code the 1.2.0 wheel lacks."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError(
            'mmaction2 1.2.0 from pip ships without mmaction/models/localizers/drn '
            f'({UPSTREAM_ISSUE}); mmbackbones stands in for it so the rest of mmaction.models '
            'imports, but DRN itself cannot be built. Install mmaction2 from source to use it.')


def needs_drn_stand_in() -> bool:
    """Whether the installed mmaction2 imports a ``drn`` subpackage that is missing.

    Reads the installed files only; imports nothing of mmaction.

    Example:
        >>> needs_drn_stand_in()  # mmaction2 1.2.0 from pip
        True
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    localizers = osp.join(list(spec.submodule_search_locations)[0], 'models', 'localizers')
    init = osp.join(localizers, '__init__.py')
    if not osp.isfile(init) or osp.isfile(osp.join(localizers, 'drn', 'drn.py')):
        return False
    with open(init, encoding='utf-8') as f:
        return 'from .drn' in f.read()


def ensure_mmaction_importable() -> bool:
    """Make ``import mmaction.models`` work on the mmaction2 1.2.0 wheel; idempotent.

    Returns:
        True when the stand-in is in place (put there now or earlier), False when mmaction2 needs
        none (not installed, a fixed wheel, or ``mmaction.models`` already imported).

    Example:
        >>> ensure_mmaction_importable()
        True
        >>> import mmaction.models  # Recognizer3D, I3DHead, ActionDataPreprocessor, ...
        >>> sys.modules['mmaction.models.localizers.drn'].__stand_in_for__
        'https://github.com/open-mmlab/mmaction2/issues/2714'
    """
    if _PACKAGE in sys.modules:
        return getattr(sys.modules[_PACKAGE], '__stand_in_for__', None) is not None
    if 'mmaction.models' in sys.modules or not needs_drn_stand_in():
        return False
    package = types.ModuleType(_PACKAGE, f'mmbackbones stand-in ({UPSTREAM_ISSUE})')
    package.__path__ = []  # a package with no files: nothing else can be imported from it
    package.__stand_in_for__ = UPSTREAM_ISSUE
    module = types.ModuleType(f'{_PACKAGE}.drn', package.__doc__)
    module.__stand_in_for__ = UPSTREAM_ISSUE
    # `DRN` is looked up when mmaction.models imports it: register the stand-in then (as the
    # real module would), so type='DRN' says why it cannot be built.
    module.__getattr__ = _registered_drn
    package.drn = module
    sys.modules[_PACKAGE] = package
    sys.modules[module.__name__] = module
    return True


def _registered_drn(name: str) -> type:
    if name != 'DRN':
        raise AttributeError(f'module {_PACKAGE}.drn (a stand-in, {UPSTREAM_ISSUE}) has no '
                             f'attribute {name!r}')
    from mmaction.registry import MODELS as MMACTION_MODELS
    if 'DRN' not in MMACTION_MODELS.module_dict:
        MMACTION_MODELS.register_module('DRN', module=DRN)
    return DRN


@MODELS.register_module()
class SelectStage(nn.Module):
    """Neck of an mmaction2 recognizer: one stage of a backbone's output tuple for the head.

    Our backbones always return a tuple of stage outputs (``out_indices``); mmaction2's heads
    (``I3DHead``, ``SlowFastHead``, ...) take the tensor that mmaction2's own backbones return for
    a single out index. The neck has no parameters, so a recognizer checkpoint has the same keys
    (``backbone.``, ``cls_head.``) with and without it.

    Args:
        index: Position in the backbone's output tuple (default: the last).

    Example:
        >>> neck = SelectStage()
        >>> x, aux = neck((torch.rand(2, 256, 8, 8, 8), torch.rand(2, 512, 4, 4, 4)))
        >>> tuple(x.shape), aux
        ((2, 512, 4, 4, 4), {})
    """

    def __init__(self, index: int = -1) -> None:
        super().__init__()
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f'index={index!r} must be an int position in the backbone outputs.')
        self.index = index

    def forward(self, x: Sequence[torch.Tensor] | torch.Tensor,
                data_samples: Optional[list] = None) -> tuple[torch.Tensor, dict]:
        """``(x[index], {})``: mmaction2's neck contract is ``(features, auxiliary losses)``."""
        if isinstance(x, torch.Tensor):
            return x, {}
        if not -len(x) <= self.index < len(x):
            raise IndexError(f'SelectStage(index={self.index}) on a backbone with {len(x)} '
                             f'outputs; allowed: {-len(x)}..{len(x) - 1} (see its out_indices).')
        return x[self.index], {}


ensure_mmaction_importable()


def load_recognizer_checkpoint(model: nn.Module, checkpoint: str,
                               min_match: float = 0.5) -> dict:
    """Load an mmaction2 recognizer checkpoint (``backbone.``, ``cls_head.``, ...) into a
    recognizer whose backbone is ours, with our loader's report for each part.

    mmaction2's ``ResNet3d`` names its convs ``conv1.conv``/``conv1.bn`` (ConvModules), ours
    ``conv1``/``bn1``; the backbone's keys are converted by the ``mmaction2`` layout, the other
    parts' keys load as they are.

    Args:
        model: An mmaction2 recognizer (``Recognizer3D``) built from one of our configs.
        checkpoint: Path, URL or model-zoo name of the mmaction2 recognizer checkpoint.
        min_match: Fail (and load nothing into that part) when less than this fraction of a
            part's parameters is set.

    Returns:
        ``{part name: LoadReport}`` for every part with parameters.

    Example:
        >>> reports = load_recognizer_checkpoint(recognizer, 'i3d_r50_kinetics400.pth')
        >>> reports['backbone'].layout, reports['cls_head'].missing
        ('mmaction2', [])
    """
    state_dict = read_state_dict(checkpoint)
    return {name: load_state_dict_report(part, state_dict, checkpoint=checkpoint,
                                         prefix=f'{name}.', min_match=min_match)
            for name, part in model.named_children()
            if any(True for _ in part.parameters())}
