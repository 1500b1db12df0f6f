"""The one atomic writer (mmbackbones.utils.fileio): temporary names the stale-file cleaner knows,
clear errors on a full disk, and training on a work dir that fills up."""
from __future__ import annotations

import glob
import os
import os.path as osp
import subprocess

import pytest
import torch

from mmbackbones.demos.datasets._folder import build_folder_atomically
from mmbackbones.utils.fileio import (
    TEMP_NAME,
    FileWriteError,
    atomic_write_path,
    remove_stale_temp_files,
    save_atomic,
    temp_path,
    write_atomic,
    write_bytes_atomic,
)

from conftest import DIGITS_CONFIG, tiny_config, tool


@pytest.fixture
def small_tmpfs(tmp_path):
    """``mount(size)``: a tmpfs of ``size`` bytes at a fresh folder, unmounted at teardown."""
    mounted = []

    def mount(size: int) -> str:
        folder = str(tmp_path / f'tmpfs{len(mounted)}')
        os.makedirs(folder)
        done = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size // 1024}k', 'tmpfs',
                               folder], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f'cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): '
                        f'{done.stderr.strip()}')
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        # lazily: a run's logger may still hold its log file there open
        subprocess.run(['umount', '-l', folder], check=False)


def test_temp_names_are_the_ones_the_cleaner_removes(tmp_path):
    for keep_ext in (False, True):
        name = osp.basename(temp_path(str(tmp_path / 'curves.png'), keep_ext))
        assert TEMP_NAME.match(name), name
    dead = 2**22 + 7  # above the default pid_max: no such process
    for name in (f'epoch_1.pth.tmp{dead}', f'maps.png.tmp{dead}.png'):
        (tmp_path / name).write_bytes(b'half')
    (tmp_path / f'digits.tmp{dead}').mkdir()  # a dataset folder being built
    (tmp_path / f'live.pth.tmp{os.getpid()}').write_bytes(b'being written')
    (tmp_path / 'notes.tmp').write_bytes(b'a user file')
    removed = remove_stale_temp_files(str(tmp_path))
    assert sorted(osp.basename(p) for p in removed) == sorted(
        [f'digits.tmp{dead}', f'epoch_1.pth.tmp{dead}', f'maps.png.tmp{dead}.png'])
    assert sorted(os.listdir(tmp_path)) == sorted([f'live.pth.tmp{os.getpid()}', 'notes.tmp'])


def test_every_writer_replaces_whole_files(tmp_path):
    path = str(tmp_path / 'out' / 'f.bin')
    write_bytes_atomic(path, b'one')
    write_atomic(path, lambda tmp: open(tmp, 'wb').write(b'two'))
    with atomic_write_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(b'three')
    assert open(path, 'rb').read() == b'three'
    save_atomic({'w': torch.ones(2)}, path)
    assert torch.equal(torch.load(path)['w'], torch.ones(2))
    assert os.listdir(osp.dirname(path)) == ['f.bin']


def test_full_disk_names_the_file_and_keeps_the_old_one(small_tmpfs):
    folder = small_tmpfs(256 * 1024)
    path = osp.join(folder, 'weights.pth')
    save_atomic({'w': torch.zeros(1000)}, path)
    before = open(path, 'rb').read()
    for write in (lambda: save_atomic({'w': torch.zeros(200_000)}, path),  # torch's writer
                  lambda: write_bytes_atomic(path, b'x' * 400_000)):
        with pytest.raises(FileWriteError, match=f'could not write {path}: No space left'):
            write()
        assert open(path, 'rb').read() == before
        assert os.listdir(folder) == ['weights.pth']


def test_dataset_folder_on_a_full_disk_is_not_left_half_built(small_tmpfs):
    root = osp.join(small_tmpfs(64 * 1024), 'data')

    def write(tmp: str) -> None:
        for i in range(100):
            with open(osp.join(tmp, f'{i}.bin'), 'wb') as f:
                f.write(b'x' * 4096)

    with pytest.raises(FileWriteError, match=f'could not write {root}: No space left'):
        build_folder_atomically(root, write, lambda: False)
    assert os.listdir(osp.dirname(root)) == []


def _checkpoint_bytes() -> int:
    """About what epoch_N.pth of the digits config weighs: weights, buffers and SGD momentum."""
    from mmbackbones.config import build_model_from_cfg, load_config
    model = build_model_from_cfg(load_config(DIGITS_CONFIG))
    tensors = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return tensors + sum(p.numel() * p.element_size() for p in model.parameters())


def test_training_on_a_work_dir_that_fills_up(tmp_path, digits_root, small_tmpfs):
    """epoch_1.pth fits, epoch_2.pth does not: a clear error naming it, epoch_1.pth intact."""
    size = _checkpoint_bytes()
    work_dir = small_tmpfs(int(size * 1.5) + 4 * 2**20)  # + logs, curves, last_checkpoint
    config = tiny_config(tmp_path, digits_root, 'full', epochs=2, extra=(
        'default_hooks = dict(checkpoint=dict(save_best=None, max_keep_ckpts=1))\n'))
    with pytest.raises(FileWriteError) as info:
        tool('train.py').main([config, '--work-dir', work_dir])
    text = str(info.value)
    assert f'could not write {osp.join(work_dir, "epoch_2.pth")}' in text, text
    assert 'No space left on device' in text
    assert glob.glob(osp.join(work_dir, '*.tmp*')) == []
    from mmbackbones.checkpoint import load_file
    assert load_file(osp.join(work_dir, 'epoch_1.pth'))['meta']['epoch'] == 1
