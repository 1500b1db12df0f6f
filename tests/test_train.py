"""tools/train.py and tools/test.py on a tiny slice of the embedded digits dataset.

The real run (97%+ in a few minutes) is a measurement, not a test; here a few iterations prove
the plumbing: checkpoints, curves, resume after a crash, evaluation of a checkpoint.
"""
from __future__ import annotations

import glob
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook

from mmbackbones.engine import AtomicCheckpointHook, AtomicLocalBackend
from mmbackbones.registry import HOOKS

from conftest import ROOT, tiny_config, tool

train_tool = tool('train.py')
test_tool = tool('test.py')


def final_accuracy(work_dir: str) -> float:
    """The last validation accuracy mmengine logged in this work dir (latest run)."""
    scalars = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(scalars) as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if 'accuracy/top1' in r][-1]['accuracy/top1']


@HOOKS.register_module(force=True)
class CrashAtIterHook(Hook):
    """Test-only: stop in the middle of an epoch, as a killed run would."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            raise KeyboardInterrupt(f'crash at iteration {runner.iter}')


@pytest.mark.slow
def test_train_resume_matches_uninterrupted(tmp_path, digits_root):
    whole, broken = str(tmp_path / 'whole'), str(tmp_path / 'broken')
    config = tiny_config(tmp_path, digits_root, 'whole', epochs=3)
    assert train_tool.main([config, '--work-dir', whole]) == 0
    # killed in the middle of epoch 3 (iterations 8..11), after epoch_2.pth was written
    crash = tiny_config(tmp_path, digits_root, 'broken', epochs=3, extra=(
        "custom_hooks = [dict(type='CurvePlotHook'), dict(type='RNGStateHook'), "
        "dict(type='CrashAtIterHook', at_iter=9)]\n"))
    with pytest.raises(KeyboardInterrupt):
        train_tool.main([crash, '--work-dir', broken])
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(broken, 'epoch_*.pth'))) == [
        'epoch_1.pth', 'epoch_2.pth']
    resumed = tiny_config(tmp_path, digits_root, 'resumed', epochs=3)
    assert train_tool.main([resumed, '--work-dir', broken, '--resume']) == 0

    a = torch.load(osp.join(whole, 'epoch_3.pth'), weights_only=False)
    b = torch.load(osp.join(broken, 'epoch_3.pth'), weights_only=False)
    assert a['meta']['iter'] == b['meta']['iter'] == 12
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    assert final_accuracy(whole) == final_accuracy(broken)
    # the curves of the resumed run continue those of the killed one
    with open(osp.join(broken, 'curves.json')) as f:
        curves = json.load(f)
    assert [p[0] for p in curves['metrics']['accuracy/top1']] == [1, 2, 3]
    assert [p[0] for p in curves['loss']] == [10]  # one point per 10 iterations
    for name in ('loss.png', 'val_metrics.png'):
        assert osp.getsize(osp.join(broken, name)) > 1000
    assert not glob.glob(osp.join(broken, '*.tmp*'))

    # tools/test.py evaluates the checkpoint to the same accuracy
    assert test_tool.main([tiny_config(tmp_path, digits_root, 'test'),
                           osp.join(whole, 'epoch_3.pth'), '--work-dir',
                           str(tmp_path / 'test')]) == 0
    assert final_accuracy(whole) == pytest.approx(
        _last_test_accuracy(str(tmp_path / 'test')))


def _last_test_accuracy(work_dir: str) -> float:
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    with open(logs[-1]) as f:
        rows = [json.loads(line) for line in f]
    return rows[-1]['accuracy/top1']


def test_train_one_epoch_writes_checkpoint_and_curves(tmp_path, digits_root):
    work_dir = str(tmp_path / 'run')
    config = tiny_config(tmp_path, digits_root, 'one', epochs=1)
    assert train_tool.main([config, '--work-dir', work_dir, '--cfg-options',
                            'train_dataloader.dataset.indices=32']) == 0
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == ckpt
    # our checkpoints load with torch.load(weights_only=True) and the safe allow-list
    from mmbackbones.checkpoint import load_file
    assert load_file(ckpt)['meta']['epoch'] == 1
    assert osp.getsize(osp.join(work_dir, 'val_metrics.png')) > 1000
    assert 0.0 <= final_accuracy(work_dir) <= 100.0


def test_atomic_backend_never_leaves_half_written_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'epoch_1.pth')
    backend = AtomicLocalBackend()
    backend.put(b'old', path)

    def fail(*args):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'new-and-longer', path)
    with open(path, 'rb') as f:
        assert f.read() == b'old'
    assert os.listdir(tmp_path) == ['epoch_1.pth']
    monkeypatch.undo()
    backend.put_text('text', path)
    with open(path) as f:
        assert f.read() == 'text'


class _StubRunner:
    """What CheckpointHook uses of a Runner; records the folder at each save."""

    def __init__(self, work_dir: str) -> None:
        from mmengine.logging import MessageHub, MMLogger
        self.work_dir, self.epoch, self.iter = work_dir, 0, 0
        self.message_hub = MessageHub.get_instance(f'stub-{work_dir}')
        self.logger = MMLogger.get_instance(f'stub-{work_dir}')
        self.saves: list[tuple[str, list[str]]] = []

    def save_checkpoint(self, out_dir, filename, *args, **kwargs) -> None:
        self.saves.append((filename, sorted(os.listdir(out_dir))))
        AtomicLocalBackend().put(filename.encode(), osp.join(out_dir, filename))


def test_checkpoint_hook_deletes_old_checkpoints_after_writing_new(tmp_path):
    runner = _StubRunner(str(tmp_path))
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=1, save_best='acc', rule='greater')
    hook.before_train(runner)
    for epoch, acc in ((1, 0.5), (2, 0.9)):
        runner.epoch = epoch - 1
        hook._save_checkpoint(runner)  # after_train_epoch
        runner.epoch = epoch
        hook._save_best_checkpoint(runner, {'acc': acc})  # after_val_epoch
    saves: dict[str, list[str]] = {}
    for name, present in runner.saves:  # epoch_N is saved twice when the best improves
        saves.setdefault(name, present)
    # when the new files were first written, the ones they replace were still there
    assert 'best_acc_epoch_1.pth' in saves['best_acc_epoch_2.pth']
    assert 'epoch_1.pth' in saves['epoch_2.pth']
    assert sorted(os.listdir(tmp_path)) == ['best_acc_epoch_2.pth', 'epoch_2.pth',
                                            'last_checkpoint']


def test_checkpoint_hook_mends_last_checkpoint(tmp_path):
    hook, runner = AtomicCheckpointHook(interval=1), _StubRunner(str(tmp_path))
    last = tmp_path / 'last_checkpoint'
    for i, name in enumerate(('epoch_2.pth', 'epoch_1.pth', 'epoch_3.pth')):
        (tmp_path / name).write_bytes(b'x')
        os.utime(tmp_path / name, (1000 + i, 1000 + i))  # epoch_3 newest
    for content in ('', str(tmp_path / 'epoch_9.pth')):  # killed mid-write; deleted by the user
        last.write_text(content)
        hook.before_run(runner)
        assert last.read_text() == str(tmp_path / 'epoch_3.pth')
    last.write_text(str(tmp_path / 'epoch_1.pth'))  # valid: kept
    hook.before_run(runner)
    assert last.read_text() == str(tmp_path / 'epoch_1.pth')
    for name in ('epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth'):
        os.remove(tmp_path / name)
    hook.before_run(runner)  # nothing to resume from: start over instead of failing
    assert not last.exists()


def test_digits_dataset_prepared_once(digits_root):
    from mmbackbones.demos.datasets import DigitsDataset, prepare_digits
    train = DigitsDataset(digits_root, split='train')
    val = DigitsDataset(digits_root, split='val')
    assert (len(train), len(val)) == (1437, 360)
    assert train.metainfo['classes'] == tuple(str(i) for i in range(10))
    assert not {osp.basename(p['img_path']) for p in train.load_data_list()} & \
        {osp.basename(p['img_path']) for p in val.load_data_list()}
    with pytest.raises(ValueError, match='prepared with'):
        prepare_digits(digits_root, seed=1)
    with pytest.raises(ValueError, match='split'):
        DigitsDataset(digits_root, split='test')


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tmp_path, digits_root):
    import subprocess
    work_dir = str(tmp_path / 'dist')
    config = tiny_config(tmp_path, digits_root, 'dist', epochs=1)
    env = dict(os.environ, PORT='29517')
    out = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, '2',
                          '--work-dir', work_dir], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(logs[0]) as f:
        log = f.read()
    assert 'Distributed training: True' in log and "backend='gloo'" in log
    # 64 images / (2 processes x 16) = 2 iterations per epoch
    assert torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=False)['meta']['iter'] == 2
    assert 0.0 <= final_accuracy(work_dir) <= 100.0
