"""Every config under configs/ parses, names only types that resolve, and builds its model."""
from __future__ import annotations

import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmbackbones.engine.config import _resolve_type, build_model_from_cfg

from conftest import config_scopes, why_no_tier

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ALL = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                     recursive=True))
# _base_ partials of datasets/schedules/runtime are not standalone; models are.
RUNNABLE = [p for p in ALL if '_base_' not in p]
MODEL_PARTIALS = [p for p in ALL if osp.join('_base_', 'models') in p]
# configs/mmdet/ run in mmdet's scope, where task utilities (nms, ...) are not registry types;
# test_model_builds and tests/test_mmdet_tier.py cover them.
OUR_SCOPE = [p for p in ALL if not p.startswith(osp.join('configs', 'mmdet'))]


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
    scope = cfg.get('default_scope', 'mmbackbones')
    assert scope == 'mmbackbones', f'{path} runs in scope {scope!r}, not ours'
    unresolved = [f'{where}: {name}' for where, name in _types(cfg.to_dict())
                  if _resolve_type(name, scope) is None]
    assert not unresolved, f'types that do not resolve under scope {scope!r}: {unresolved}'


def _heavy(path: str) -> bool:
    name = osp.basename(path)
    return any(k in name for k in ('101', '152', 'vgg', 'faster-rcnn', 'retinanet'))


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
