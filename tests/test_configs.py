"""Every config under configs/ parses, names only types that resolve, and builds its model."""
from __future__ import annotations

import copy
import glob
import math
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config

from mmbackbones.config import _resolve_type, build_model_from_cfg, load_config

from conftest import config_scopes, why_no_tier

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ALL = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                     recursive=True))
# _base_ partials of datasets/schedules/runtime are not standalone; models are.
RUNNABLE = [p for p in ALL if '_base_' not in p]
MODEL_PARTIALS = [p for p in ALL if osp.join('_base_', 'models') in p]
# configs/mmdet/, configs/mmseg/ and configs/mmaction/ run in those libraries' scopes, where task
# utilities (nms, ...) are not registry types; test_model_builds and tests/test_mmdet_tier.py,
# tests/test_mmseg_tier.py and tests/test_mmaction_tier.py cover them.
OTHER_SCOPES = tuple(osp.join('configs', lib) for lib in ('mmdet', 'mmseg', 'mmaction'))
OUR_SCOPE = [p for p in ALL if not p.startswith(OTHER_SCOPES)]
# Configs that train by epochs: every runnable one but the model-only ResNet3d config, mmseg's
# iteration-based Cityscapes configs and mmaction2's Kinetics schedules (theirs: a cosine phase
# that begins late), and the schedule.
SCHEDULED = [p for p in RUNNABLE if not p.startswith(osp.join('configs', 'resnet3d'))
             and not (p.startswith(osp.join('configs', 'mmseg')) and 'cityscapes' in p)
             and not (p.startswith(osp.join('configs', 'mmaction')) and 'kinetics' in p)] + [
    osp.join('configs', '_base_', 'schedules', 'imagenet_bs256.py')]


def _types(node, path=''):
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield path or '<root>', node['type']
        for key, value in node.items():
            yield from _types(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _types(value, f'{path}.{i}')


def test_configs_found():
    assert osp.join('configs', 'resnet', 'resnet18_8xb16_digits.py') in RUNNABLE
    for base in ('datasets/imagenet_bs32.py', 'schedules/imagenet_bs256.py',
                 'default_runtime.py'):
        assert osp.join('configs', '_base_', base) in ALL


def _load(path: str) -> Config:
    # A config that inherits another library's bases (`mmdet::...`) cannot even be parsed
    # without that library: skip, naming the tier that installs it.
    for package in config_scopes(osp.join(ROOT, path)):
        reason = why_no_tier(package)
        if reason is not None:
            pytest.skip(f'{path} inherits {package}:: bases and {reason}')
    cfg = Config.fromfile(osp.join(ROOT, path))
    scope = cfg.get('default_scope', 'mmbackbones')
    if scope != 'mmbackbones' and why_no_tier(scope) is not None:
        pytest.skip(f'{path} runs in the {scope!r} scope and {why_no_tier(scope)}')
    return cfg


@pytest.mark.parametrize('path', OUR_SCOPE)
def test_every_type_resolves(path):
    cfg = _load(path)
    if path.startswith(osp.join('configs', '_base_')) and 'custom_imports' not in cfg:
        # a partial names the demo datasets that the configs built on it import through
        # custom_imports; Config.fromfile imported nothing for it, whatever ran before
        import mmbackbones.demos  # noqa: F401
    scope = cfg.get('default_scope', 'mmbackbones')
    assert scope == 'mmbackbones', f'{path} runs in scope {scope!r}, not ours'
    unresolved = [f'{where}: {name}' for where, name in _types(cfg.to_dict())
                  if _resolve_type(name, scope) is None]
    assert not unresolved, f'types that do not resolve under scope {scope!r}: {unresolved}'


def _heavy(path: str) -> bool:
    name = osp.basename(path)
    return any(k in name for k in ('101', '152', 'vgg', 'faster-rcnn', 'retinanet',
                                   'cityscapes'))


@pytest.mark.parametrize('path', [pytest.param(p, marks=pytest.mark.slow) if _heavy(p) else p
                                  for p in RUNNABLE + MODEL_PARTIALS])
def test_model_builds(path):
    cfg = _load(path)
    if cfg.get('train_dataloader') is not None and cfg.get('default_scope') == 'mmbackbones':
        for field in ('train_dataloader', 'val_dataloader', 'optim_wrapper', 'train_cfg'):
            assert cfg.get(field) is not None, f'{path} has no {field}'
    if '_base_' in path and str(cfg.model.get('type', '')).startswith('mmpretrain.'):
        # a model partial: its dataset partial supplies the preprocessor in a full config
        cfg.model.setdefault('data_preprocessor', dict(type='mmpretrain.ClsDataPreprocessor'))
    model = build_model_from_cfg(cfg)
    backbone = getattr(model, 'backbone', model)
    assert type(backbone).__module__.startswith('mmbackbones.'), \
        f'{path}: backbone {type(backbone)} is not ours'
    assert sum(p.numel() for p in model.parameters()) > 0


def test_digits_model_runs():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'resnet', 'resnet18_8xb16_digits.py'))
    model = build_model_from_cfg(cfg).eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, 10)
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreprocessor'


def _build_schedulers(cfg: Config, epoch_length: int):
    """The param schedulers as mmengine's Runner builds them, on a one-parameter SGD."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmbackbones'))
    optim_wrapper = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    schedulers = []
    for scheduler in cfg.param_scheduler:
        scheduler = copy.deepcopy(scheduler)
        by_epoch = scheduler.get('by_epoch', True)
        max_epochs = cfg.train_cfg.max_epochs
        scheduler.setdefault('end', max_epochs if by_epoch else max_epochs * epoch_length)
        schedulers.append(PARAM_SCHEDULERS.build(scheduler, default_args=dict(
            optimizer=optim_wrapper, epoch_length=epoch_length)))
    return optim_wrapper, schedulers


@pytest.mark.filterwarnings('ignore:Detected call of')  # scheduler steps, no optimizer
@pytest.mark.parametrize('max_epochs', [1, 2, 3])
@pytest.mark.parametrize('path', SCHEDULED)
def test_schedule_valid_for_any_run_length(path, max_epochs):
    for package in config_scopes(osp.join(ROOT, path)):
        if why_no_tier(package) is not None:
            pytest.skip(f'{path} inherits {package} configs and {why_no_tier(package)}')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        cfg = load_config(osp.join(ROOT, path), {'train_cfg.max_epochs': max_epochs})
    left_out = [str(w.message) for w in caught if 'left out of this run' in str(w.message)]
    assert cfg.param_scheduler, f'{path} has no param_scheduler'
    epoch_length = 4
    optim_wrapper, schedulers = _build_schedulers(cfg, epoch_length)
    base_lr = 0.1
    lrs = []
    for _ in range(max_epochs):  # the order of mmengine's ParamSchedulerHook
        for _ in range(epoch_length):
            lrs.append(optim_wrapper.param_groups[0]['lr'])
            for scheduler in schedulers:
                if not scheduler.by_epoch:
                    scheduler.step()
        for scheduler in schedulers:
            if scheduler.by_epoch:
                scheduler.step()
    assert all(math.isfinite(lr) and 0.0 <= lr <= base_lr * (1 + 1e-6) for lr in lrs), lrs
    if path.endswith('resnet18_8xb16_digits.py'):
        # warm-up over epoch 1; the cosine phase (begin=1) spans the remaining epochs (T_max
        # follows max_epochs), so its last epoch is one step before reaching 0
        assert lrs[0] == pytest.approx(0.1 * base_lr)
        assert len(left_out) == (max_epochs == 1), left_out
        if max_epochs > 1:
            t = (max_epochs - 2) / (max_epochs - 1)
            assert lrs[-1] == pytest.approx(base_lr * (1 + math.cos(math.pi * t)) / 2)
    else:
        assert not left_out, left_out


def test_digits_one_epoch_run_is_not_rejected_but_bad_lengths_are():
    from mmbackbones.config import ConfigError
    with pytest.warns(UserWarning, match=r'param_scheduler\[1\] \(CosineAnnealingLR, begin=1\)'):
        cfg = load_config(osp.join(ROOT, 'configs', 'resnet', 'resnet18_8xb16_digits.py'),
                          {'train_cfg.max_epochs': 1})
    assert [s['type'] for s in cfg.param_scheduler] == ['LinearLR']
    for bad in (0, -1, 1.5, True, '3'):
        with pytest.raises(ConfigError, match=f'train_cfg.max_epochs={bad!r} must be an int'):
            load_config(osp.join(ROOT, 'configs', 'resnet', 'resnet18_8xb16_digits.py'),
                        {'train_cfg.max_epochs': bad})
