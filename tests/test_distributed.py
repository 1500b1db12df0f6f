"""Two CPU processes (gloo) take the same optimisation step as one process on the whole batch.

The processes are set up as ``tools/dist_train.sh`` sets them up (torchrun's environment,
:func:`mmbackbones.engine.launch.setup_launcher`, the ``MMDistributedDataParallel`` wrapper the
Runner builds from ``model_wrapper_cfg``) and each takes one ``train_step`` on its 8 of 16 fixed
images; one process takes the step on all 16. With BN in eval mode (``norm_eval=True``) the
gradients do not depend on how the batch is split, so the weights must agree to float precision;
with BN in training mode they must not (per-process batch statistics), which shows the comparison
can fail.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import socket

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.config import Config

from mmbackbones.config import build_model_from_cfg

from conftest import DIGITS_CONFIG

WORLD_SIZE, BATCH, LR = 2, 16, 0.1


def _model(norm_eval: bool) -> torch.nn.Module:
    cfg = Config.fromfile(DIGITS_CONFIG)
    cfg.model.backbone.update(base_channels=8, norm_eval=norm_eval)
    cfg.model.head.in_channels = 64
    torch.manual_seed(0)
    return build_model_from_cfg(cfg).train()


def _batch(start: int, stop: int) -> dict:
    """Images ``start:stop`` of 16 fixed digit-sized images, as mmpretrain's PackInputs gives."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (BATCH, 3, 32, 32), generator=g, dtype=torch.uint8)
    labels = torch.arange(BATCH) % 10
    samples = [DataSample().set_gt_label(int(label)) for label in labels[start:stop]]
    return dict(inputs=list(images[start:stop]), data_samples=samples)


def _step(model: torch.nn.Module, data: dict) -> dict[str, torch.Tensor]:
    """One plain SGD step (no momentum, no weight decay) through the model's ``train_step``."""
    from mmengine.optim import OptimWrapper
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=LR))
    model.train_step(data, optim_wrapper)
    inner = getattr(model, 'module', model)
    return {k: v.detach().clone() for k, v in inner.state_dict().items()}


def _worker(rank: int, port: int, out_dir: str) -> None:
    from mmengine.registry import MODEL_WRAPPERS

    from mmbackbones.engine.launch import distributed_teardown, setup_launcher
    # what torchrun sets for tools/dist_train.sh
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    cfg = Config(dict(launcher='none'))
    setup_launcher(cfg, 'pytorch')  # gloo process group, MMDistributedDataParallel wrapper cfg
    assert torch.distributed.get_backend() == 'gloo'
    per_rank = BATCH // WORLD_SIZE
    with distributed_teardown():
        for norm_eval in (True, False):
            model = MODEL_WRAPPERS.build(cfg.model_wrapper_cfg,
                                         default_args=dict(module=_model(norm_eval)))
            weights = _step(model, _batch(rank * per_rank, (rank + 1) * per_rank))
            if rank == 0:
                torch.save(weights, osp.join(out_dir, f'norm_eval={norm_eval}.pth'))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_take_the_one_process_step(tmp_path, monkeypatch):
    # the children run on CPU even where a GPU is visible: setup_launcher's gloo path
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)

    for norm_eval in (True, False):
        one = _step(_model(norm_eval), _batch(0, BATCH))
        two = torch.load(tmp_path / f'norm_eval={norm_eval}.pth', weights_only=True)
        start = _model(norm_eval).state_dict()
        moved = max((one[k] - start[k]).abs().max().item() for k in one
                    if one[k].is_floating_point())
        diff = max((one[k] - two[k]).abs().max().item() for k in one
                   if one[k].is_floating_point() and 'running' not in k)
        print(f'norm_eval={norm_eval}: step moved weights by up to {moved:.3g}; '
              f'1 x 16 vs 2 x 8 images: max weight difference {diff:.3g}')
        assert moved > 1e-3, 'the step did not change the weights'
        if norm_eval:
            assert diff < 1e-6, f'2 x 8 images vs 16: max weight difference {diff:.3g}'
        else:  # per-process batch statistics: a different step, and the test can tell
            assert diff > 1e-5, f'BN in training mode: max weight difference only {diff:.3g}'


@pytest.mark.parametrize('fails', [False, True])
def test_teardown_waits_for_peers_only_after_success(monkeypatch, fails):
    """A finished process meets its peers at a barrier before destroying the group (a peer
    still exchanging its last messages otherwise aborts); a failed one must not wait, since
    its peers may never reach the barrier."""
    from mmbackbones.engine import launch
    calls = []
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.distributed, 'barrier', lambda: calls.append('barrier'))
    monkeypatch.setattr(torch.distributed, 'destroy_process_group',
                        lambda: calls.append('destroy'))
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
        with launch.distributed_teardown():
            if fails:
                raise RuntimeError('training failed')
    assert calls == (['destroy'] if fails else ['barrier', 'destroy'])
