"""Bad checkpoint files end in one clear error that names the file, and leave the model as it was.

Every unreadable file raises :class:`CheckpointFileError` (a ``ValueError``); a missing one is
also a ``FileNotFoundError``, a pickle that would run code also a ``pickle.UnpicklingError``.
A 2D checkpoint given to ResNet3d says so and how to inflate it.
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from mmbackbones.checkpoint import (
    CheckpointFileError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    UnsafeCheckpointError,
    load_pretrained,
)
from mmbackbones.models import ResNet, ResNet3d

from conftest import has_module, randomize


def real_checkpoint(path, legacy: bool = False) -> bytes:
    torch.save({'state_dict': randomize(ResNet(depth=18)).state_dict()}, path,
               _use_new_zipfile_serialization=not legacy)
    with open(path, 'rb') as f:
        return f.read()


def half(data: bytes) -> bytes:
    return data[:len(data) // 2]


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f'open({self.marker!r}, "w").write("ran")', ))


def make_bad_file(kind: str, tmp_path) -> tuple[str, str]:
    """Write a bad checkpoint of ``kind``; return its path and what the error must say."""
    base, full = tmp_path / 'model', tmp_path / 'full.pth'
    if kind == 'missing':
        return str(tmp_path / 'nope.pth'), 'is not a file'
    if kind == 'folder':
        os.makedirs(base)
        return str(base), 'is a directory'
    ext = {'pkl': '.pkl', 'safetensors': '.safetensors'}.get(kind.split('-')[-1], '.pth')
    path = str(base) + ext
    content, says = {
        'empty': (b'', 'is empty'),
        'empty-pkl': (b'', 'is empty'),
        'text': (b'version https://git-lfs.github.com/spec/v1\noid sha256:4f2a\n',
                 'is not a PyTorch checkpoint'),
        'html': (b'<!DOCTYPE html><html><body>Access denied</body></html>',
                 'is not a PyTorch checkpoint'),
        'truncated': (None, 'truncated or corrupt'),
        'truncated-legacy': (None, 'truncated or corrupt'),
        'corrupt-pickle-in-zip': (None, 'truncated or corrupt'),
        'corrupt-zip-directory': (None, 'truncated or corrupt'),
        'text-pkl': (b'not a pickle at all\n', 'truncated or corrupt'),
        'truncated-pkl': (None, 'truncated or corrupt'),
        'code-pkl': (None, 'Refused to load'),
        'garbage-safetensors': (b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": [1, 2', 'corrupt'),
        'truncated-safetensors': (None, 'truncated or corrupt'),
        'list': (None, 'holds a list, not a dict'),
        'no-tensors': (None, 'holds no weights'),
    }[kind]
    if kind == 'truncated':
        content = half(real_checkpoint(full))
    elif kind == 'truncated-legacy':
        content = half(real_checkpoint(full, legacy=True))
    elif kind == 'corrupt-pickle-in-zip':  # zeros over the start of archive/data.pkl
        content = bytearray(real_checkpoint(full))
        start = content.index(b'\x80\x02') + 2
        content[start:start + 64] = bytes(64)
    elif kind == 'corrupt-zip-directory':  # zeros over the zip's central directory
        content = bytearray(real_checkpoint(full))
        content[-300:-236] = bytes(64)
    elif kind == 'truncated-pkl':
        state = {k: v.numpy() for k, v in randomize(ResNet(depth=18)).state_dict().items()}
        content = half(pickle.dumps({'model': state, '__author__': 'test'}, protocol=2))
    elif kind == 'code-pkl':
        content = pickle.dumps({'model': {'conv1_w': np.zeros(3)},
                                'x': _RunsCode(str(tmp_path / 'pwned'))})
    elif kind == 'truncated-safetensors':
        from safetensors.torch import save_file
        save_file(randomize(ResNet(depth=18)).state_dict(), str(full))
        content = half(full.read_bytes())
    elif kind == 'list':
        torch.save([torch.zeros(2)], full)
        content = full.read_bytes()
    elif kind == 'no-tensors':
        torch.save({'meta': {'epoch': 3}, 'state_dict': {}}, full)
        content = full.read_bytes()
    with open(path, 'wb') as f:
        f.write(content)
    return path, says


KINDS = ['missing', 'folder', 'empty', 'empty-pkl', 'text', 'html', 'truncated',
         'truncated-legacy', 'corrupt-pickle-in-zip', 'corrupt-zip-directory', 'text-pkl',
         'truncated-pkl', 'code-pkl', 'garbage-safetensors', 'truncated-safetensors', 'list',
         'no-tensors']


def _skip_without_safetensors(kind: str) -> None:
    if kind.endswith('safetensors') and not has_module('safetensors'):
        pytest.skip('safetensors is not installed (pip install safetensors)')


@pytest.mark.parametrize('how', ['load_pretrained', 'init_cfg'])
@pytest.mark.parametrize('kind', KINDS)
def test_bad_file_is_one_clear_error_and_the_model_is_unchanged(kind, how, tmp_path):
    _skip_without_safetensors(kind)
    path, says = make_bad_file(kind, tmp_path)
    init_cfg = [dict(type='Kaiming', layer='Conv2d'),  # would change the model if run first
                dict(type='Pretrained', checkpoint=path)]
    model = ResNet(depth=18, init_cfg=init_cfg if how == 'init_cfg' else None)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointFileError) as info:
        if how == 'init_cfg':
            model.init_weights()
        else:
            load_pretrained(model, path)
    message = str(info.value)
    assert path in message and says in message, message
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FileNotFoundError) == (kind == 'missing')
    assert isinstance(info.value, CheckpointNotFoundError) == (kind == 'missing')
    assert isinstance(info.value, pickle.UnpicklingError) == (kind == 'code-pkl')
    assert isinstance(info.value, UnsafeCheckpointError) == (kind == 'code-pkl')
    assert not (tmp_path / 'pwned').exists()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f'{k} changed although the load failed'


@pytest.mark.parametrize('how', ['init_cfg', 'pretrained', 'load_pretrained'])
def test_2d_checkpoint_into_resnet3d_says_how_to_inflate(how, tmp_path):
    path = str(tmp_path / 'r18_2d.pth')
    torch.save(randomize(ResNet(depth=18, base_channels=16)).state_dict(), path)
    kwargs = dict(depth=18, base_channels=16)
    if how == 'init_cfg':
        model = ResNet3d(**kwargs, init_cfg=dict(type='Pretrained', checkpoint=path))
    elif how == 'pretrained':  # mmaction2's argument, without pretrained2d=True
        model = ResNet3d(**kwargs, pretrained=path, pretrained2d=False)
    else:
        model = ResNet3d(**kwargs)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        model.init_weights() if how != 'load_pretrained' else load_pretrained(model, path)
    message = str(info.value)
    assert f'{path} is a 2D checkpoint' in message
    assert 'pretrained2d=True' in message and 'inflate_pretrained' in message
    assert 'conv1.weight: (16, 3, 7, 7) vs (16, 3, 3, 7, 7)' in message
    assert 'layer4.1.conv2.weight' not in message and len(message) < 600, message
    if how != 'pretrained':  # (mmaction2's pretrained loads after the random init)
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), f'{k} changed although the load failed'
    # the advice works
    model = ResNet3d(**kwargs, pretrained=path, pretrained2d=True)
    model.init_weights()


def test_the_same_error_for_a_3d_checkpoint_that_does_not_fit_keeps_the_report(tmp_path):
    """Only a 2D checkpoint gets the inflation advice; other mismatches keep the full report."""
    path = str(tmp_path / 'r3d_wide.pth')
    torch.save(ResNet3d(depth=18, base_channels=32).state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match=r'(?s)shape mismatch.*min_match=50%') as info:
        load_pretrained(ResNet3d(depth=18, base_channels=16), path)
    assert 'is a 2D checkpoint' not in str(info.value)


def test_our_loader_inside_training_checkpoint_globals_keeps_the_outer_allow_list(tmp_path):
    """torch's ``safe_globals`` context removes all its entries on exit; ours nests: an
    ``init_cfg`` loader run inside ``training_checkpoint_globals`` (tools/train.py) leaves the
    training checkpoint types allowed for the next load of the same run."""
    from mmengine.logging import HistoryBuffer

    from mmbackbones.checkpoint import read_state_dict
    from mmbackbones.engine import training_checkpoint_globals
    path = str(tmp_path / 'epoch_1.pth')
    buffer = HistoryBuffer()
    buffer.update(1.0)
    torch.save({'state_dict': {'w': torch.ones(2)}, 'message_hub': {'loss': buffer}}, path)
    before = set(torch.serialization.get_safe_globals())
    with training_checkpoint_globals():
        assert set(read_state_dict(path)) == {'w'}  # our loader, nested
        loaded = torch.load(path, weights_only=True)  # the outer block's list still holds
        assert loaded['message_hub']['loss'].current() == 1.0
    assert set(torch.serialization.get_safe_globals()) == before
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
