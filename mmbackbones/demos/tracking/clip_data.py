"""The digit tracking videos as mmdetection clips: T consecutive frames with per-frame boxes.

Each item is one clip: ``inputs`` a ``T x 3 x H x W`` uint8 tensor (the grey frame replicated to 3
channels, as mmcv loads a grey PNG in colour) and ``data_samples`` an mmdet ``TrackDataSample``
holding one ``DetDataSample`` per frame (``gt_instances``: ``bboxes``, ``labels``,
``instances_ids``; metainfo ``img_id``, ``img_path``, ``video_id``, ``frame_id``, ``ori_shape``,
``img_shape``, ``scale_factor``). mmdet's ``TrackDataPreprocessor`` normalises and stacks them to
``N x T x 3 x H x W``; :class:`~.clip_detector.ClipDetector` folds T into the batch for the head.

Needs mmdetection; registered in mmbackbones' ``DATASETS``: a config names it
``type='mmbackbones.DigitTrackClipDataset'`` (found without a custom import, like
``mmbackbones.DigitCanvasDataset``).
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmdet.structures import DetDataSample, TrackDataSample
from mmengine.dataset import BaseDataset
from mmengine.structures import InstanceData

from ...registry import DATASETS
from ..datasets.digit_tracks import prepare_digit_tracks
from ..datasets.metainfo import DIGIT_METAINFO, PreparesItsFolder
from ..datasets.settings import Count, Fraction


@DATASETS.register_module()
class DigitTrackClipDataset(PreparesItsFolder, BaseDataset):
    """Clips of ``clip_len`` consecutive frames of the digit tracking videos; written under
    ``data_root`` on first use
    (:func:`~mmbackbones.demos.datasets.digit_tracks.prepare_digit_tracks`).

    Args:
        data_root: Folder of the prepared videos (created when missing).
        split: ``'train'`` or ``'val'``.
        clip_len: Frames per clip (T).
        clip_stride: Frames between the starts of two clips of a video; default ``clip_len``
            (the clips tile the video). The evaluation needs tiling clips (every frame once), so
            ``test_mode`` requires ``clip_stride == clip_len`` and a video length divisible by it.
        reverse_prob: Chance to play a training clip backwards (the bouncing and crossing
            motion is as plausible in reverse).
        generator: Settings of ``prepare_digit_tracks`` (``seed``, ``num_train``, ...).
        indices: Keep only the first ``indices`` clips (an int) or these clips (a list).
        test_mode: Evaluation: no reversal.

    Example:
        >>> ds = DigitTrackClipDataset('data/digit_tracks', split='val', clip_len=4,
        ...                            test_mode=True)
        >>> item = ds[0]
        >>> tuple(item['inputs'].shape), len(item['data_samples'])
        ((4, 3, 96, 96), 4)
    """

    METAINFO = DIGIT_METAINFO
    sets_itself = ('ann_file', 'data_prefix', 'metainfo', 'pipeline')

    def __init__(self, data_root: str = 'data/digit_tracks', split: str = 'train',
                 clip_len: int = 4, clip_stride: Optional[int] = None, reverse_prob: float = 0.0,
                 generator: Optional[dict] = None, indices=None, test_mode: bool = False,
                 **kwargs) -> None:
        Count().check('clip_len', clip_len)
        clip_stride = clip_len if clip_stride is None else clip_stride
        Count().check('clip_stride', clip_stride)
        if test_mode and clip_stride != clip_len:
            raise ValueError(f'test_mode needs clips that tile the videos: clip_stride='
                             f'{clip_stride!r} must equal clip_len={clip_len!r}.')
        Fraction(closed=True).check('reverse_prob', reverse_prob)
        self.split = split
        self.clip_len = clip_len
        self.clip_stride = clip_stride
        self.reverse_prob = reverse_prob
        self._rng = np.random.default_rng(0)
        self.check_and_prepare(prepare_digit_tracks, data_root, split, kwargs,
                               **(generator or {}))
        super().__init__(data_root=data_root, ann_file=f'annotations/{split}.json',
                         indices=indices, test_mode=test_mode, serialize_data=False, **kwargs)

    def load_data_list(self) -> list[dict]:
        """One entry per clip: its frames (path, image id, boxes, labels, track ids)."""
        with open(self.ann_file) as f:
            coco = json.load(f)
        frames: dict[int, dict] = {}
        for img in coco['images']:
            frames[img['id']] = dict(
                img_id=img['id'], img_path=osp.join(self.data_root, img['file_name']),
                video_id=img['video_id'], frame_id=img['frame_id'],
                height=img['height'], width=img['width'], bboxes=[], labels=[], ids=[])
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            frame = frames[ann['image_id']]
            frame['bboxes'].append([x, y, x + w, y + h])
            frame['labels'].append(ann['category_id'] - 1)
            frame['ids'].append(ann['instance_id'])
        videos: dict[int, list[dict]] = {}
        for frame in frames.values():
            videos.setdefault(frame['video_id'], []).append(frame)
        clips = []
        for video_id in sorted(videos):
            video = sorted(videos[video_id], key=lambda fr: fr['frame_id'])
            if len(video) < self.clip_len:
                raise ValueError(f'clip_len={self.clip_len} exceeds the {len(video)} frames of '
                                 f'video {video_id} in {self.ann_file}.')
            if self.test_mode and len(video) % self.clip_len:
                raise ValueError(f'test_mode: clip_len={self.clip_len} must divide the video '
                                 f'length ({len(video)} frames) so that the clips tile it.')
            for start in range(0, len(video) - self.clip_len + 1, self.clip_stride):
                clips.append(dict(frames=video[start:start + self.clip_len]))
        return clips

    def prepare_data(self, idx: int) -> dict:
        from PIL import Image
        frames = self.get_data_info(idx)['frames']
        if not self.test_mode and self.reverse_prob and self._rng.random() < self.reverse_prob:
            frames = frames[::-1]
        images, samples = [], []
        for frame in frames:
            grey = np.asarray(Image.open(frame['img_path']).convert('L'))
            images.append(torch.from_numpy(np.repeat(grey[None], 3, axis=0)))
            sample = DetDataSample(metainfo=dict(
                img_id=frame['img_id'], img_path=frame['img_path'], video_id=frame['video_id'],
                frame_id=frame['frame_id'], ori_shape=grey.shape, img_shape=grey.shape,
                scale_factor=(1.0, 1.0)))
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor(frame['bboxes'], dtype=torch.float32).reshape(-1, 4),
                labels=torch.tensor(frame['labels'], dtype=torch.long),
                instances_ids=torch.tensor(frame['ids'], dtype=torch.long))
            samples.append(sample)
        track = TrackDataSample()
        track.video_data_samples = samples
        return dict(inputs=torch.stack(images), data_samples=track)
