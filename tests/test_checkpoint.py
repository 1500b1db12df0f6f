"""The checkpoint layer: safe reading, prefixes, remapping report, min_match, atomic saves."""
import os
import pickle

import numpy as np
import pytest
import torch

from mmbackbones.checkpoint import (
    CheckpointMismatchError,
    UnsafeCheckpointError,
    load_file,
    load_pretrained,
    save_atomic,
)
from mmbackbones.models import ResNet

from conftest import prefill_hub_cache, randomize


class _RunsCode:
    """A pickle payload that would create a marker file when unpickled unsafely."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f'open({self.marker!r}, "w").write("ran")', ))


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}, 'x': _RunsCode(str(marker))},
               path)
    with pytest.raises(UnsafeCheckpointError, match='Refused to load .*evil.pth'):
        load_file(str(path))
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # also catchable as the pickle error it is
        load_pretrained(ResNet(depth=18), str(path))
    assert not marker.exists()


def test_openmmlab_training_checkpoint_with_numpy_and_message_hub_loads(tmp_path):
    from mmengine.logging import HistoryBuffer
    model = randomize(ResNet(depth=18))
    hub = HistoryBuffer()
    hub.update(0.5)
    path = tmp_path / 'epoch_3.pth'
    torch.save({'meta': {'epoch': 3, 'seed': np.int64(7), 'hist': np.arange(3)},
                'message_hub': {'log_scalars': {'train/loss': hub}},
                'state_dict': {f'backbone.{k}': v for k, v in model.state_dict().items()}},
               path)
    target = ResNet(depth=18)
    report = load_pretrained(target, str(path))
    assert report.prefix == 'backbone.' and report.matched_fraction == 1.0
    for k, v in model.state_dict().items():
        assert torch.equal(target.state_dict()[k], v)


def test_too_little_matched_fails_with_report_and_loads_nothing(tmp_path):
    path = tmp_path / 'r18.pth'
    torch.save(randomize(ResNet(depth=18)).state_dict(), path)
    target = ResNet(depth=50)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        load_pretrained(target, str(path))
    text = str(info.value)
    assert 'matched:' in text and 'missing in checkpoint:' in text
    assert 'shape mismatch (skipped):' in text and 'layer1.0.conv1.weight' in text
    assert 'min_match=50%' in text
    for k, v in target.state_dict().items():
        assert torch.equal(v, before[k]), f'{k} changed although the load failed'


def test_report_lists_shape_mismatch_and_still_loads_the_rest(tmp_path, capsys):
    source = randomize(ResNet(depth=18))
    path = tmp_path / 'r18.pth'
    torch.save(source.state_dict(), path)
    target = ResNet(depth=18, in_channels=4)
    report = load_pretrained(target, str(path))
    assert [k for k, _, _ in report.mismatched] == ['conv1.weight']
    assert report.mismatched[0][1:] == ((64, 3, 7, 7), (64, 4, 7, 7))
    assert torch.equal(target.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    assert 'conv1.weight: checkpoint (64, 3, 7, 7) vs model (64, 4, 7, 7)' in report.format()


def test_explicit_prefix_and_a_wrong_one(tmp_path):
    source = randomize(ResNet(depth=18))
    path = tmp_path / 'det.pth'
    torch.save({'state_dict': {f'model.body.{k}': v for k, v in source.state_dict().items()}},
               path)
    target = ResNet(depth=18)
    load_pretrained(target, str(path), prefix='model.body.')
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    target = ResNet(depth=18)
    load_pretrained(target, str(path), prefix='model.body')  # mmengine style, no trailing dot
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    with pytest.raises(KeyError, match="prefix='neck.': no checkpoint key starts with it"):
        load_pretrained(target, str(path), prefix='neck.')


def test_init_cfg_list_with_pretrained_runs_other_inits_then_loads(tmp_path):
    source = randomize(ResNet(depth=18))
    path = tmp_path / 'r18.pth'
    torch.save(source.state_dict(), path)
    model = ResNet(depth=18, init_cfg=[dict(type='Constant', val=0.0, layer='Conv2d'),
                                       dict(type='Pretrained', checkpoint=str(path))])
    model.init_weights()
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    # zero_init_residual is for random init only: a pretrained load keeps its norms
    assert torch.equal(model.layer1[0].norm2.weight, source.layer1[0].norm2.weight)


def test_model_zoo_name_resolves_to_the_torch_hub_cache(tmp_path, monkeypatch):
    """'torchvision://resnet18' reads the cached download; no network is touched."""
    from mmengine.runner.checkpoint import get_torchvision_models
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    url = get_torchvision_models()['resnet18']
    source = randomize(ResNet(depth=18))
    path = prefill_hub_cache('torchvision://resnet18', source.state_dict())
    assert path == str(tmp_path / 'checkpoints' / os.path.basename(url))
    model = ResNet(depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))
    model.init_weights()
    assert torch.equal(model.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    with pytest.raises(KeyError, match="unknown model name 'resnet19'"):
        load_pretrained(model, 'torchvision://resnet19')


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a file'):
        load_pretrained(ResNet(depth=18), str(tmp_path / 'nope.pth'))


def test_save_atomic_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    path = tmp_path / 'latest.pth'
    save_atomic({'a': torch.ones(2)}, str(path))

    def broken_save(obj, f):
        with open(f, 'wb') as fh:
            fh.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        save_atomic({'a': torch.zeros(2)}, str(path))
    assert os.listdir(tmp_path) == ['latest.pth']
    assert torch.equal(torch.load(path)['a'], torch.ones(2))


class _GetattrEscape:
    """getattr is allowed only for mmengine's HistoryBuffer; reaching elsewhere is refused."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_outside_history_buffer_is_refused(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'state_dict': {}, 'meta': _GetattrEscape()}, path)
    with pytest.raises(UnsafeCheckpointError):
        load_file(str(path))
