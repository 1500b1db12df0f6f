"""Weight initialisation shared by every mmbackbones module (backbones and necks)."""
from __future__ import annotations

from mmengine.model import BaseModule


class PretrainedInitModule(BaseModule):
    """``BaseModule`` whose ``init_cfg=dict(type='Pretrained', ...)`` goes through our loader.

    The loader (:func:`mmbackbones.checkpoint.load_pretrained`) reads files safely, finds the
    ``backbone.``/``neck.`` sub-dict, lets the module rename foreign layouts
    (:meth:`remap_state_dict`), prints a report and fails when too little matched. Other
    ``init_cfg`` entries in the same list (e.g. Kaiming) run first.
    """

    def _pretrained_cfg(self) -> dict | None:
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        found = [c for c in cfgs if isinstance(c, dict) and c.get('type') == 'Pretrained']
        return found[-1] if found else None

    def init_weights(self) -> None:
        pretrained = self._pretrained_cfg()
        if pretrained is None:
            super().init_weights()
            self._after_init_weights()
            return
        from ..checkpoint import load_pretrained
        others = [c for c in (self.init_cfg if isinstance(self.init_cfg, list) else [])
                  if c is not pretrained]
        if others:  # e.g. Kaiming for layers the checkpoint does not cover
            saved, self.init_cfg = self.init_cfg, others
            super().init_weights()
            self.init_cfg = saved
        load_pretrained(self, **{k: v for k, v in pretrained.items() if k != 'type'})
        self._is_init = True

    def _after_init_weights(self) -> None:
        """Hook for module-specific init after the random init (e.g. zero-init residuals)."""

    def remap_state_dict(self, state_dict: dict) -> dict:
        """Rename another library's keys to ours. Families override this; see the loader."""
        return state_dict
