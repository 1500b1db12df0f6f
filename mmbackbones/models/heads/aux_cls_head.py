"""A classification head that adds auxiliary-classifier losses (GoogLeNet's aux heads)."""
from __future__ import annotations

import torch
from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample


class AuxClsHead(ClsHead):
    """mmpretrain's ``ClsHead`` plus weighted losses of the backbone's auxiliary logits.

    The backbone (e.g. ``GoogLeNet(num_classes=..., aux_logits=True)``) ends in its own
    classifier, whose logits are the last output, and in training attaches the auxiliary logits
    to the returned tuple as ``aux_logits``. Each adds ``aux_loss_weight`` times the head's loss
    as ``loss_aux1``, ``loss_aux2``, ... (the paper: weight 0.3 each). Prediction uses the main
    logits only; the backbone does not run its auxiliary heads in eval mode.

    Args:
        aux_loss_weight: Weight of each auxiliary loss.
        **kwargs: ``ClsHead`` arguments (``loss``, ``topk``, ``cal_acc``, ``init_cfg``).

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> from mmbackbones.models import GoogLeNet
        >>> from mmbackbones.models.heads.aux_cls_head import AuxClsHead
        >>> backbone = GoogLeNet(num_classes=10, aux_logits=True, out_indices=-1).train()
        >>> feats = backbone(torch.rand(2, 3, 224, 224))
        >>> samples = [DataSample().set_gt_label(i) for i in (3, 7)]
        >>> print(sorted(AuxClsHead().loss(feats, samples)))
        ['loss', 'loss_aux1', 'loss_aux2']
    """

    def __init__(self, aux_loss_weight: float = 0.3, **kwargs) -> None:
        super().__init__(**kwargs)
        if not float(aux_loss_weight) >= 0:
            raise ValueError(f'aux_loss_weight={aux_loss_weight!r} must be >= 0.')
        self.aux_loss_weight = float(aux_loss_weight)

    def loss(self, feats: tuple[torch.Tensor, ...], data_samples: list[DataSample],
             **kwargs) -> dict:
        losses = super().loss(feats, data_samples, **kwargs)
        aux_logits = getattr(feats, 'aux_logits', ())
        if not aux_logits:
            if self.training:
                raise ValueError('AuxClsHead got no auxiliary logits from the backbone in '
                                 'training; build it with aux_logits=True (and num_classes > 0) '
                                 'or use ClsHead.')
            return losses
        if 'gt_score' in data_samples[0]:  # batch augmentations give soft targets
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        for i, logits in enumerate(aux_logits, 1):
            losses[f'loss_aux{i}'] = self.aux_loss_weight * self.loss_module(
                logits, target, avg_factor=logits.size(0), **kwargs)
        return losses
