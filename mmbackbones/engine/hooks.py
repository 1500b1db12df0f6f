"""Runner hooks of our default runtime (``configs/_base_/default_runtime.py``)."""
from __future__ import annotations

import contextlib
import glob
import json
import os
import os.path as osp
import random
import tempfile
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook

from ..registry import HOOKS
from ..utils.fileio import atomic_write_path, remove_stale_temp_files


@HOOKS.register_module()
class CurvePlotHook(Hook):
    """Save the training loss and the validation metrics as PNG curves in the work dir.

    ``loss.png`` (mean loss over every ``interval`` iterations) and ``val_metrics.png`` (each
    numeric validation metric against the epoch, or the iteration for iteration-based loops) are
    rewritten after every epoch and validation, with their points in ``curves.json``, from which
    a resumed run continues the curves of the killed one.

    Args:
        interval: Iterations averaged into one point of the loss curve.
        out_dir: Folder of the PNGs; the run's work dir when None.

    Example:
        >>> custom_hooks = [dict(type='CurvePlotHook', interval=10)]
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = 10, out_dir: Optional[str] = None) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval={interval!r} must be a positive int.')
        self.interval = interval
        self.out_dir = out_dir
        self.loss: list[list[float]] = []  # [iteration, mean loss]
        self.metrics: dict[str, list[list[float]]] = {}  # name -> [[epoch or iter, value]]
        self._training = False

    def before_train(self, runner) -> None:
        # A resumed run (iter > 0) continues the curves of the run it resumes, cut back to the
        # checkpoint it starts from; a run that only loaded weights (load_from) starts new ones.
        if is_main_process():  # the files a killed run was writing
            remove_stale_temp_files(self.out_dir or runner.work_dir)
        path = osp.join(self.out_dir or runner.work_dir, 'curves.json')
        if runner.iter > 0 and osp.isfile(path):
            with open(path) as f:
                saved = json.load(f)
            step = runner.epoch if _by_epoch(runner) else runner.iter
            self.loss = [p for p in saved.get('loss', []) if p[0] <= runner.iter]
            self.metrics = {k: [p for p in v if p[0] <= step]
                            for k, v in saved.get('metrics', {}).items()}
        self._training = True

    def after_train(self, runner) -> None:
        self._training = False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        if 'train/loss' in runner.message_hub.log_scalars:
            mean = runner.message_hub.get_scalar('train/loss').mean(self.interval)
            self.loss.append([runner.iter + 1, float(mean)])

    def after_train_epoch(self, runner) -> None:
        self._plot(runner)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        if not metrics or not self._training:
            return  # runner.val() outside training: no curve to extend
        step = runner.epoch if _by_epoch(runner) else runner.iter
        for name, value in metrics.items():
            if isinstance(value, (int, float, np.floating, np.integer)):
                self.metrics.setdefault(name, []).append([step, float(value)])
        self._plot(runner)

    def _plot(self, runner) -> None:
        if not is_main_process():
            return
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        out_dir = self.out_dir or runner.work_dir
        os.makedirs(out_dir, exist_ok=True)
        with atomic_write_path(osp.join(out_dir, 'curves.json')) as tmp, open(tmp, 'w') as f:
            json.dump(dict(loss=self.loss, metrics=self.metrics), f)
        unit = 'epoch' if _by_epoch(runner) else 'iteration'
        plots = [('loss.png', {'train loss': self.loss}, 'iteration', 'loss'),
                 ('val_metrics.png', self.metrics, unit, 'value')]
        for filename, series, xlabel, ylabel in plots:
            if not any(series.values()):
                continue
            fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
            for name, points in series.items():
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker='o' if len(points) < 50 else None, label=name)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.legend()
            ax.set_title(f'{osp.basename(runner.work_dir)}: {filename[:-4].replace("_", " ")}')
            fig.tight_layout()
            # keep_ext: matplotlib picks the format from the extension
            with atomic_write_path(osp.join(out_dir, filename), keep_ext=True) as tmp:
                fig.savefig(tmp)
            plt.close(fig)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` that a killed run cannot leave without a usable checkpoint.

    * Checkpoints are written by the ``local_atomic`` backend (temporary file, then rename) unless
      ``backend_args`` name another.
    * The previous best checkpoint (``save_best``) and the oldest kept one (``max_keep_ckpts``)
      are deleted after the new one is written; mmengine deletes them first, so a run killed in
      between lost its best checkpoint.
    * ``last_checkpoint``, which mmengine rewrites in place, is checked before ``--resume`` reads
      it: when it is empty or names a checkpoint that is gone, it is pointed at the newest
      checkpoint of the work dir.

    Takes the arguments of mmengine's ``CheckpointHook``.

    Example:
        >>> default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', interval=1,
        ...                                      max_keep_ckpts=3, save_best='auto'))
    """

    def __init__(self, *args, backend_args: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, backend_args=backend_args or dict(backend='local_atomic'),
                         **kwargs)
        self._deferred: Optional[list[str]] = None

    def before_run(self, runner) -> None:
        if is_main_process():
            _repair_last_checkpoint(runner.work_dir)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        with self._removals_after_saving():
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removals_after_saving():
            super()._save_best_checkpoint(runner, metrics)

    @contextlib.contextmanager
    def _removals_after_saving(self) -> Iterator[None]:
        if self._deferred is not None:  # nested (best -> step): the outer block removes
            yield
            return
        backend, self._deferred = self.file_backend, []
        self.file_backend = _DeferredRemovals(backend, self._deferred)
        try:
            yield
        finally:
            self.file_backend = backend
            deferred, self._deferred = self._deferred, None
        for path in deferred:  # only reached when every save succeeded
            if backend.isfile(path):
                backend.remove(path)


class _DeferredRemovals:
    """A file backend whose ``remove`` only records the path."""

    def __init__(self, backend, removed: list[str]) -> None:
        self._backend = backend
        self._removed = removed

    def remove(self, filepath) -> None:
        self._removed.append(filepath)

    def __getattr__(self, name: str):
        return getattr(self._backend, name)


def _repair_last_checkpoint(work_dir: str) -> None:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return
    with open(path) as f:
        named = f.read().strip()
    if named and osp.isfile(named):
        return
    found = glob.glob(osp.join(work_dir, 'epoch_*.pth')) + glob.glob(
        osp.join(work_dir, 'iter_*.pth'))
    if not found:
        os.remove(path)
        return
    with atomic_write_path(path) as tmp, open(tmp, 'w') as f:
        f.write(max(found, key=osp.getmtime))


def _by_epoch(runner) -> bool:
    from mmengine.runner import EpochBasedTrainLoop
    return isinstance(runner.train_loop, EpochBasedTrainLoop)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store the python/numpy/torch random states in each checkpoint and restore them on resume.

    mmengine re-seeds a resumed run with its initial seed, so random augmentations that run in the
    main process (``num_workers=0``) draw different numbers than in an uninterrupted run. With
    this hook, a deterministic run resumed from epoch N repeats the uninterrupted run exactly.
    States are per process: they are restored only in single-process runs.

    Example:
        >>> custom_hooks = [dict(type='RNGStateHook')]
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._loaded: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state = dict(world_size=get_world_size(), python=random.getstate(),
                     numpy=(kind, keys.tolist(), pos, has_gauss, gauss),
                     torch=torch.get_rng_state())
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint.setdefault('meta', {})['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('meta', {}).get('rng_state')

    def before_train(self, runner) -> None:
        state, self._loaded = self._loaded, None
        if state is None or runner.iter == 0:
            return  # not a resumed run
        if get_world_size() != 1 or state['world_size'] != 1:
            runner.logger.info('RNGStateHook: random states are restored only in '
                               'single-process runs; distributed ranks keep their seeds.')
            return
        python = state['python']
        random.setstate((python[0], tuple(python[1]), python[2]))
        kind, keys, pos, has_gauss, gauss = state['numpy']
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A progress bar over each training epoch (or the whole iteration-based run), with the
    current loss, on an interactive terminal; silent when stderr is not a terminal (logs, CI).

    Example:
        >>> custom_hooks = [dict(type='ProgressBarHook')]
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._bar = None

    def before_train_epoch(self, runner) -> None:
        if not is_main_process():
            return
        from tqdm import tqdm
        if _by_epoch(runner):
            total = len(runner.train_dataloader)
            desc = f'epoch {runner.epoch + 1}/{runner.max_epochs}'
        elif self._bar is None:
            total, desc = runner.max_iters - runner.iter, 'train'
        else:
            return
        self._close()
        # disable=None: off when stderr is not a tty
        self._bar = tqdm(total=total, desc=desc, leave=False, disable=None, dynamic_ncols=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        if 'train/loss' in runner.message_hub.log_scalars:
            loss = runner.message_hub.get_scalar('train/loss').current()
            self._bar.set_postfix(loss=f'{loss:.4f}', refresh=False)

    def after_train_epoch(self, runner) -> None:
        if _by_epoch(runner):
            self._close()

    def after_train(self, runner) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _resize_class_map(pixel_data, size: tuple[int, int]):
    """A copy of an mmseg ``PixelData`` class map (``1 x H x W``) resized to ``size`` (nearest)."""
    import torch
    data = pixel_data.data
    resized = torch.nn.functional.interpolate(data[None].float(), size=size, mode='nearest')
    return type(pixel_data)(data=resized[0].to(data.dtype), metainfo=pixel_data.metainfo)


def _clip_strip(clip, sample, classes: Optional[Sequence[str]], scale: float) -> np.ndarray:
    """One clip (mmaction2 input ``num_clips x C x T x H x W`` or ``C x T x H x W``, uint8) as a
    row of its first view's frames, enlarged ``scale`` times, under a line with the true and the
    predicted class."""
    from PIL import Image, ImageDraw
    clip = clip.detach().cpu()
    clip = clip[0] if clip.dim() == 5 else clip
    frames = clip.permute(1, 2, 3, 0).numpy()  # T x H x W x C
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    gap = np.full((frames.shape[1], 2, 3), 255, np.uint8)
    row = np.concatenate([p for f in frames for p in (f[..., :3].astype(np.uint8), gap)][:-1],
                         axis=1)
    image = Image.fromarray(row).resize((int(row.shape[1] * scale), int(row.shape[0] * scale)),
                                        Image.NEAREST)

    def name(index: int) -> str:
        return classes[index] if classes is not None and index < len(classes) else str(index)

    score = sample.pred_score
    pred = int(score.argmax())
    text = f'pred: {name(pred)} ({float(score[pred]):.2f})'
    if 'gt_label' in sample:
        text = f'true: {name(int(sample.gt_label.reshape(-1)[0]))}   ' + text
    canvas = Image.new('RGB', (image.width, image.height + 14), (255, 255, 255))
    canvas.paste(image, (0, 14))
    ImageDraw.Draw(canvas).text((2, 1), text, fill=(0, 0, 0))
    return np.asarray(canvas)


@HOOKS.register_module()
class PredictionPlotHook(Hook):
    """Draw the predictions on the first ``num_images`` images of each evaluation as one PNG in
    the work dir, next to the curves: ``val_predictions.png`` (rewritten after every validation)
    and ``test_predictions.png`` (``tools/test.py``).

    Each row is one image, drawn by the runner's visualizer (mmdet's ``DetLocalVisualizer`` in
    mmdet configs, mmseg's ``SegLocalVisualizer`` in mmseg configs: ground truth on the left,
    predictions on the right), enlarged ``scale`` times so that labels on small images stay
    readable (boxes and class maps are scaled with it). In mmaction2 configs each row is one clip:
    its frames left to right under the true and the predicted class.

    Args:
        num_images: Images drawn, the first of the evaluation set.
        scale: Enlargement of each image (boxes are scaled with it).
        draw_gt: Also draw the ground truth.
        out_dir: Folder of the PNG; the run's work dir when None.
        **draw_kwargs: Passed to the visualizer's ``add_datasample`` (``pred_score_thr=0.3``).

    Example:
        >>> custom_hooks = [dict(type='mmbackbones.PredictionPlotHook', num_images=4)]
    """

    priority = 'LOW'

    def __init__(self, num_images: int = 4, scale: float = 3.0, draw_gt: bool = True,
                 out_dir: Optional[str] = None, **draw_kwargs) -> None:
        if not isinstance(num_images, int) or num_images < 1:
            raise ValueError(f'num_images={num_images!r} must be a positive int.')
        if not scale > 0:
            raise ValueError(f'scale={scale!r} must be positive.')
        self.num_images = num_images
        self.scale = float(scale)
        self.draw_gt = draw_gt
        self.out_dir = out_dir
        self.draw_kwargs = draw_kwargs
        self._rows: list[np.ndarray] = []

    def before_val_epoch(self, runner) -> None:
        self._rows = []

    def before_test_epoch(self, runner) -> None:
        self._rows = []

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._draw(runner, outputs, data_batch)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._draw(runner, outputs, data_batch)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._save(runner, 'val_predictions.png')

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._save(runner, 'test_predictions.png')

    def _draw(self, runner, outputs, data_batch=None) -> None:
        if not is_main_process() or len(self._rows) >= self.num_images:
            return
        import mmcv
        for k, sample in enumerate(outputs or []):
            if len(self._rows) >= self.num_images:
                break
            if 'img_path' not in sample and 'pred_score' in sample and data_batch is not None:
                # mmaction2: a clip from the batch's inputs, as a strip of its frames
                classes = (runner.visualizer.dataset_meta or {}).get('classes')
                self._rows.append(_clip_strip(data_batch['inputs'][k], sample, classes,
                                              self.scale))
                continue
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            sample = sample.clone()
            if self.scale != 1.0:
                image = mmcv.imrescale(image, self.scale, interpolation='nearest')
            # predictions are in the original image's pixels, ground truth in the resized input's
            gt_factor = np.asarray(sample.metainfo.get('scale_factor', (1.0, 1.0)))
            for field, factor in (('pred_instances', self.scale),
                                  ('gt_instances', self.scale / np.tile(gt_factor, 2))):
                instances = sample.get(field)
                if instances is not None and 'bboxes' in instances:
                    instances.bboxes = instances.bboxes * instances.bboxes.new_tensor(factor)
            for field in ('gt_sem_seg', 'pred_sem_seg'):  # mmseg: class maps, to the image
                if field in sample:
                    sample.set_field(_resize_class_map(sample.get(field), image.shape[:2]),
                                     field)
            has_gt = 'gt_instances' in sample or 'gt_sem_seg' in sample
            # through a file: mmseg's visualizer keeps only the last panel as its image
            with tempfile.TemporaryDirectory() as tmp:
                drawn = osp.join(tmp, 'drawn.png')
                runner.visualizer.add_datasample(
                    osp.basename(sample.img_path), image, data_sample=sample,
                    draw_gt=self.draw_gt and has_gt, draw_pred=True, show=False,
                    out_file=drawn, **self.draw_kwargs)
                self._rows.append(mmcv.imread(drawn, channel_order='rgb'))

    def _save(self, runner, filename: str) -> None:
        if not is_main_process() or not self._rows:
            return
        from PIL import Image
        width = max(r.shape[1] for r in self._rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in self._rows]
        out_dir = self.out_dir or runner.work_dir
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, filename)
        with atomic_write_path(path, keep_ext=True) as tmp:
            Image.fromarray(np.concatenate(rows, axis=0)).save(tmp)
        self._rows = []
