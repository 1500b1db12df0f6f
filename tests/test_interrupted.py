"""tools/train.py killed with SIGKILL, resumed with --resume, ends with the uninterrupted weights.

One work dir goes through four kills (``tests/kill_hooks.py`` makes a run kill itself at the
worst moments; the test kills the others at seeded random moments) and one final resume; a
second, uninterrupted run of the same deterministic config runs beside it. After every kill every
``*.pth`` in the work dir loads; at the end the weights equal the uninterrupted run's and no
temporary file is left. ``MMBB_KILL_SEED=<n>`` draws other random moments.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmbackbones.checkpoint import load_file

from conftest import ROOT, tiny_config

SEED = int(os.environ.get('MMBB_KILL_SEED', '0'))
EPOCHS, ITERS_PER_EPOCH = 3, 4  # tiny_config: 64 training images in batches of 16
TIMEOUT = 300


def _config(tmp_path, digits_root: str, name: str, at: str | None = None, epoch: int = 1) -> str:
    # ResNet-18 with 8 base channels (64 at the last stage): a few ms per iteration
    return tiny_config(tmp_path, digits_root, name, epochs=EPOCHS, extra=f"""
model = dict(backbone=dict(base_channels=8), head=dict(in_channels=64))
custom_imports = dict(imports=['mmbackbones', 'mmbackbones.demos', 'kill_hooks'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='CurvePlotHook'), dict(type='RNGStateHook'),
                dict(type='SigkillHook', progress_file={str(tmp_path / f'{name}.progress')!r},
                     at={at!r}, epoch={epoch})]
""")


class Run:
    """``tools/train.py CONFIG --work-dir WORK_DIR [--resume]`` in a child process."""

    def __init__(self, config: str, work_dir: str, resume: bool) -> None:
        self.progress = config[:-len('.py')] + '.progress'
        self.log = config[:-len('.py')] + '.log'
        env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
            [osp.join(ROOT, 'tests'), ROOT, os.environ.get('PYTHONPATH', '')]))
        argv = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
                work_dir] + (['--resume'] if resume else [])
        with open(self.log, 'w') as log:
            self.process = subprocess.Popen(argv, cwd=osp.dirname(config), env=env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def iterations(self) -> list[int]:
        """The training iterations this run has started."""
        if not osp.exists(self.progress):
            return []
        with open(self.progress) as f:
            return [int(line) for line in f.read().split()]

    def wait(self) -> int:
        try:
            return self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f'{self.log}: still running after {TIMEOUT} s\n{self.tail()}')

    def tail(self) -> str:
        with open(self.log) as f:
            return f.read()[-3000:]


def _kill_at_random(run: Run, rng: random.Random) -> str:
    """SIGKILL ``run`` a random time into a random iteration among those still to run."""
    deadline = time.monotonic() + TIMEOUT
    while not run.iterations():  # the resumed run's first iteration
        assert run.process.poll() is None, f'run ended before training\n{run.tail()}'
        assert time.monotonic() < deadline, run.tail()
        time.sleep(0.005)
    first = run.iterations()[0]
    target = rng.randrange(first, EPOCHS * ITERS_PER_EPOCH)
    delay = rng.uniform(0.0, 0.02)  # an iteration takes ~10-30 ms here
    while target not in run.iterations():
        assert run.process.poll() is None, f'run ended before iteration {target}\n{run.tail()}'
        assert time.monotonic() < deadline, run.tail()
        time.sleep(0.002)
    time.sleep(delay)
    alive = run.process.poll() is None
    run.process.send_signal(signal.SIGKILL)
    code = run.wait()
    assert alive and code == -signal.SIGKILL, f'the run was not killed (exit {code})'
    return (f'{delay * 1000:.1f} ms into iteration {target} (resumed at {first}); iterations '
            f'started: {run.iterations()}')


def _check_after_kill(work_dir: str, pid: int) -> list[str]:
    """Every checkpoint loads; the only unfinished files are temporary files of ``pid``."""
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        assert 'meta' in load_file(path), path
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.exists(last):
        with open(last) as f:
            assert osp.isfile(f.read().strip()), 'last_checkpoint names a missing file'
    temps = [osp.basename(p) for p in glob.glob(osp.join(work_dir, '**', '*.tmp*'),
                                                recursive=True)]
    assert all(re.search(rf'\.tmp{pid}(\.|$)', name) for name in temps), temps
    return temps


@pytest.mark.slow
def test_killed_runs_resume_to_the_uninterrupted_weights(tmp_path, digits_root):
    rng = random.Random(SEED)
    report = [f'MMBB_KILL_SEED={SEED}']
    whole, broken = str(tmp_path / 'whole'), str(tmp_path / 'broken')
    reference = Run(_config(tmp_path, digits_root, 'whole'), whole, resume=False)

    # killed during validation after epoch 1: epoch_1.pth was written before validation
    run = Run(_config(tmp_path, digits_root, 'val', at='val', epoch=1), broken, resume=False)
    assert run.wait() == -signal.SIGKILL, run.tail()
    assert 'during validation after epoch 1' in run.tail()
    _check_after_kill(broken, run.process.pid)
    assert osp.isfile(osp.join(broken, 'epoch_1.pth'))

    # killed while epoch_2.pth is written: its temporary file is complete, the rename not done
    run = Run(_config(tmp_path, digits_root, 'ckpt', at='checkpoint_write', epoch=2), broken,
              resume=True)
    assert run.wait() == -signal.SIGKILL, run.tail()
    assert run.iterations()[0] == ITERS_PER_EPOCH  # resumed after epoch 1
    assert _check_after_kill(broken, run.process.pid) == [f'epoch_2.pth.tmp{run.process.pid}']
    assert not osp.exists(osp.join(broken, 'epoch_2.pth'))

    # killed at random moments
    for i in range(2):
        run = Run(_config(tmp_path, digits_root, f'random{i}'), broken, resume=True)
        report.append(f'random kill {i}: ' + _kill_at_random(run, rng))
        _check_after_kill(broken, run.process.pid)

    run = Run(_config(tmp_path, digits_root, 'final'), broken, resume=True)
    assert run.wait() == 0, run.tail()
    assert reference.wait() == 0, reference.tail()
    print('\n'.join(report))

    a = load_file(osp.join(whole, f'epoch_{EPOCHS}.pth'))
    b = load_file(osp.join(broken, f'epoch_{EPOCHS}.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == EPOCHS * ITERS_PER_EPOCH
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), f'{key} differs; {report}'
    for path in glob.glob(osp.join(broken, '*.pth')):
        assert 'meta' in load_file(path), path
    assert not glob.glob(osp.join(broken, '**', '*.tmp*'), recursive=True), report
