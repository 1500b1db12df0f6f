"""Weight initialisation shared by every mmbackbones module (backbones and necks)."""
from __future__ import annotations

from typing import ClassVar

import torch.nn as nn
from mmengine.model import BaseModule

from ..checkpoint import inflate_state_dict, load_state_dict_report, read_state_dict
from ..checkpoint.deploy_state import check_deploy_state, is_deployed, refuse_train
from . import fuse
from .layers.checks import check_init_cfg, validating

#: init_cfg types that load a checkpoint, after the other init_cfg entries (``'Inflate'``:
#: a 2D checkpoint inflated into a 3D network, :class:`mmbackbones.checkpoint.InflateInit`).
_LOADING_INITS = ('Pretrained', 'Inflate')


class PretrainedInitModule(BaseModule):
    """``BaseModule`` whose ``init_cfg=dict(type='Pretrained', ...)`` goes through our loader.

    The loader (:func:`mmbackbones.checkpoint.load_pretrained`) reads files safely, finds the
    ``backbone.``/``neck.`` sub-dict and the checkpoint's layout (mmdet, timm, ...:
    :mod:`mmbackbones.checkpoint.layouts`), prints a report and fails when too little matched.
    Other ``init_cfg`` entries in the same list (e.g. Kaiming) run after the file is read (a bad
    file leaves the module unchanged) and before the weights are loaded. ``init_cfg=dict(
    type='Inflate', checkpoint=..., method=...)`` runs the same way, inflating a 2D checkpoint.

    Every subclass's ``__init__`` checks its arguments against its annotations first
    (:func:`~mmbackbones.models.layers.checks.validate_args`): ``norm_eval='no'``, ``depth=50.0``
    or ``strides='1222'`` raise ``TypeError`` naming the argument, and an unknown ``init_cfg``
    type is a ``KeyError`` at build time. Arguments a class checks itself with a more specific
    message are listed in its ``args_checked_in_init``.
    """

    #: Arguments whose ``__init__`` checks them itself (the annotation check skips them).
    args_checked_in_init: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get('__init__')
        if init is not None and not getattr(init, 'validates_args', False):
            cls.__init__ = validating(init, cls.args_checked_in_init)

    def __init__(self, init_cfg: dict | list | None = None) -> None:
        check_init_cfg(init_cfg)
        super().__init__(init_cfg)

    def _pretrained_cfg(self) -> dict | None:
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        found = [c for c in cfgs if isinstance(c, dict) and c.get('type') in _LOADING_INITS]
        return found[-1] if found else None

    def init_weights(self) -> None:
        pretrained = self._pretrained_cfg()
        if pretrained is None:
            super().init_weights()
            self._after_init_weights()
            return
        args = {k: v for k, v in pretrained.items() if k not in ('type', 'map_location')}
        if 'checkpoint' not in args:
            raise TypeError(f"init_cfg={pretrained!r}: type={pretrained['type']!r} needs "
                            'checkpoint=<file>.')
        checkpoint = args.pop('checkpoint')
        state_dict = read_state_dict(checkpoint)
        others = [c for c in (self.init_cfg if isinstance(self.init_cfg, list) else [])
                  if c is not pretrained]
        if others:  # e.g. Kaiming for layers the checkpoint does not cover
            saved, self.init_cfg = self.init_cfg, others
            super().init_weights()
            self.init_cfg = saved
        load = inflate_state_dict if pretrained['type'] == 'Inflate' else load_state_dict_report
        load(self, state_dict, checkpoint=checkpoint, **args)
        self._is_init = True

    def _after_init_weights(self) -> None:
        """Hook for module-specific init after the random init (e.g. zero-init residuals)."""

    # ---------------------------------------------------------------- deploy mode
    @property
    def deployed(self) -> bool:
        """Whether :meth:`switch_to_deploy` folded this module (inference only)."""
        return is_deployed(self)

    def switch_to_deploy(self):
        """Fold every BatchNorm into the conv it follows, for inference (mmdeploy's hook name).

        Pairs are those the model declares (``conv_norm_pairs``, Sequential neighbours, mmcv
        ``ConvModule``); GN/LN and anything not foldable stay and are listed in the returned
        :class:`~mmbackbones.models.fuse.FuseReport`. Afterwards ``train()`` raises, and
        checkpoints saved from this module load only into deployed modules.
        """
        return fuse.switch_to_deploy(self)

    def train(self, mode: bool = True) -> nn.Module:
        if mode and self.deployed:
            refuse_train(self)
        return super().train(mode)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        check_deploy_state(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
