"""A clip detector: the backbone sees T frames, the head detects in every frame (mmdet).

Detect-and-Track (`Girdhar et al., CVPR 2018 <https://arxiv.org/abs/1712.09184>`_) runs a 3D
backbone over a short clip and a per-frame head. :class:`ClipDetector` is mmdet's
``SingleStageDetector`` (RetinaNet, FCOS, ...) with that backbone:

* inputs ``N x T x C x H x W`` (mmdet's ``TrackDataPreprocessor``), data samples mmdet
  ``TrackDataSample`` s of T ``DetDataSample`` s;
* a 3D backbone (one that declares ``stage_temporal_strides``, e.g. our ``ResNet3d``) runs on
  ``N x C x T x H x W``; it must keep T (temporal strides 1, no ``pool2``), and every output
  ``N x C' x T x h x w`` is folded to ``NT x C' x h x w``; a 2D backbone runs on the ``NT`` frames
  one by one (the frame-by-frame baseline, same head and data);
* neck and head see ``NT`` frames, so mmdet's anchors, assigners, losses and post-processing run
  unchanged; ``predict`` returns the ``NT`` frame ``DetDataSample`` s (what ``CocoMetric`` and
  :class:`~.evaluation.MOTMetric` read).

Registered in mmdet's ``MODELS``: ``type='ClipDetector'`` with
``custom_imports=dict(imports=['mmbackbones.demos.tracking'])``.
"""
from __future__ import annotations

from typing import Optional

import torch
from mmdet.models.detectors import SingleStageDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample


@MODELS.register_module()
class ClipDetector(SingleStageDetector):
    """mmdet's single-stage detector over clips; its arguments are ``SingleStageDetector``'s.

    Example:
        >>> import mmbackbones.demos.tracking  # registers ClipDetector
        >>> model = MODELS.build(dict(
        ...     type='ClipDetector',
        ...     backbone=dict(type='mmbackbones.ResNet3d', depth=18, base_channels=16,
        ...                   with_pool2=False),
        ...     neck=dict(type='mmbackbones.FPN', out_channels=32, start_level=1, num_outs=3),
        ...     bbox_head=dict(type='RetinaHead', num_classes=10, in_channels=32)))
        >>> [tuple(f.shape) for f in model.extract_feat(torch.rand(2, 4, 3, 64, 64))]
        [(8, 32, 8, 8), (8, 32, 4, 4), (8, 32, 2, 2)]
    """

    def __init__(self, backbone: dict, neck: dict, bbox_head: dict,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck, bbox_head=bbox_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        strides = getattr(self.backbone, 'stage_temporal_strides', None)
        #: Whether the backbone sees the clip (3D) or each frame alone (2D).
        self.temporal = strides is not None
        if self.temporal and any(s != 1 for s in strides):
            raise ValueError(
                f'{type(self.backbone).__name__} reduces the clip length (temporal strides of '
                f'its stages {tuple(strides)}); a clip detector needs every frame: set '
                'temporal_strides to 1, conv1_stride_t=1, pool1_stride_t=1, with_pool2=False.')

    def extract_feat(self, batch_inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """FPN features of every frame: ``N x T x C x H x W`` in, ``NT x C' x h x w`` out."""
        if batch_inputs.dim() != 5:
            raise ValueError(f'ClipDetector takes clips N x T x C x H x W; got a tensor of shape '
                             f'{tuple(batch_inputs.shape)} (use TrackDataPreprocessor).')
        if self.temporal:
            feats = self.backbone(batch_inputs.transpose(1, 2))  # N x C' x T x h x w each
            feats = tuple(f.transpose(1, 2).flatten(0, 1) for f in feats)  # NT x C' x h x w
        else:
            feats = self.backbone(batch_inputs.flatten(0, 1))  # NT x C' x h x w each
        return self.neck(feats) if self.with_neck else feats

    @staticmethod
    def frames(batch_data_samples) -> list[DetDataSample]:
        """The frame samples of a batch of ``TrackDataSample`` s, clip by clip."""
        return [frame for track in batch_data_samples for frame in track.video_data_samples]

    def loss(self, batch_inputs: torch.Tensor, batch_data_samples) -> dict:
        return self.bbox_head.loss(self.extract_feat(batch_inputs),
                                   self.frames(batch_data_samples))

    def predict(self, batch_inputs: torch.Tensor, batch_data_samples,
                rescale: bool = True) -> list[DetDataSample]:
        frames = self.frames(batch_data_samples)
        results = self.bbox_head.predict(self.extract_feat(batch_inputs), frames,
                                         rescale=rescale)
        return self.add_pred_to_datasample(frames, results)

    def _forward(self, batch_inputs: torch.Tensor, batch_data_samples=None):
        return self.bbox_head.forward(self.extract_feat(batch_inputs))
