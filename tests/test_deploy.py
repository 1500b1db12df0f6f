"""Deploy mode: conv-BN folding by declared pairs, its guards, the inference preset, with_cp."""
from __future__ import annotations

import io

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmbackbones.checkpoint import load_pretrained
from mmbackbones.deploy import (
    choose_precision,
    cpu_has_native_bf16,
    declared_pairs,
    fuse_conv_bn,
    optimize,
)
from mmbackbones.models import FPN, ResNet
from mmbackbones.registry import MODELS
from mmbackbones.utils import hardware

from conftest import (
    assert_features_close,
    build_backbone,
    example_input,
    randomize,
    registered_backbones,
)


def _bns(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]


@pytest.mark.parametrize('name', registered_backbones())
def test_deploy_matches_eager_and_folds_every_bn(name, no_grad_eval):
    model = randomize(build_backbone(name)).eval()
    x = example_input(model)
    expected = model(x)
    had_bn = _bns(model)
    report = model.switch_to_deploy()
    assert _bns(model) == [], f'BN left unfolded: {_bns(model)[:5]}'
    assert len(report.folded) == len(had_bn)
    assert model.deployed
    assert_features_close(model(x), expected, atol=1e-5, rtol=1e-4)


def test_res2net_folds_per_split_norms(no_grad_eval):
    model = randomize(build_backbone('Res2Net', deep_stem=False)).eval()
    report = model.switch_to_deploy()
    folded = dict(report.folded)
    assert folded['layer1.0.convs.2'] == 'layer1.0.bns.2'
    assert folded['conv1'] == 'bn1'  # the plain stem
    assert folded['layer1.0.downsample.0'] == 'layer1.0.downsample.1'


def test_group_norm_is_kept_and_reported(no_grad_eval):
    model = randomize(ResNet(depth=18, norm_cfg=dict(type='GN', num_groups=8))).eval()
    x = torch.randn(1, 3, 64, 64)
    expected = model(x)
    report = model.switch_to_deploy()
    assert report.folded == []
    kept = dict(report.skipped)
    assert 'GroupNorm' in kept['layer1.0.gn1'] and 'not foldable' in kept['layer1.0.gn1']
    assert 'GroupNorm' in report.summary()
    assert_features_close(model(x), expected, atol=1e-5, rtol=1e-4)


def test_pre_norm_conv_module_is_not_folded(no_grad_eval):
    """A ('norm', 'act', 'conv') ConvModule: its BN precedes its conv; registration-order
    pairing (mmcv's fuse_conv_bn) would fold it into the wrong conv."""
    model = nn.Sequential(
        ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN'), order=('norm', 'act', 'conv')),
        ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN')))
    randomize(model).eval()
    x = torch.randn(2, 8, 8, 8)
    expected = model(x)
    report = fuse_conv_bn(model)
    assert report.folded == [('1.conv', '1.bn')]
    assert [n for n, _ in report.skipped] == ['0.bn']
    torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)


def test_syncbn_and_bn3d_fold(no_grad_eval):
    model = randomize(ResNet(depth=18, norm_cfg=dict(type='SyncBN'))).eval()
    x = torch.randn(1, 3, 64, 64)
    expected = model(x)
    assert isinstance(model.bn1, nn.SyncBatchNorm)
    model.switch_to_deploy()
    assert _bns(model) == []
    assert_features_close(model(x), expected, atol=1e-5, rtol=1e-4)
    model3d = randomize(build_backbone('ResNet3d')).eval()
    assert ('conv1', model3d.norm1_name) in declared_pairs(model3d)


def test_grouped_and_dilated_convs_fold(no_grad_eval):
    model = randomize(MODELS.build(dict(type='ResNeXt', depth=50, groups=4, base_width=4,
                                        dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1)))).eval()
    x = torch.randn(1, 3, 64, 64)
    expected = model(x)
    model.switch_to_deploy()
    assert model.layer1[0].conv2.groups == 4 and model.layer4[0].conv2.dilation == (4, 4)
    assert_features_close(model(x), expected, atol=1e-5, rtol=1e-4)


def test_fpn_with_norm_folds(no_grad_eval):
    neck = randomize(FPN(in_channels=[8, 16], out_channels=8, num_outs=3,
                         norm_cfg=dict(type='BN'))).eval()
    feats = [torch.randn(1, 8, 16, 16), torch.randn(1, 16, 8, 8)]
    expected = neck(feats)
    report = neck.switch_to_deploy()
    assert len(report.folded) == 4 and _bns(neck) == []
    assert_features_close(neck(feats), expected, atol=1e-5, rtol=1e-4)


def test_deployed_model_refuses_training():
    model = ResNet(depth=18)
    model.switch_to_deploy()
    model.eval()  # still fine
    with pytest.raises(RuntimeError, match='deploy mode.*Rebuild'):
        model.train()
    assert model.switch_to_deploy().folded == []  # idempotent


def _saved(model: nn.Module) -> dict:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    return torch.load(buf)


def test_deployed_checkpoint_marker_guards_loading(tmp_path, no_grad_eval):
    folded = randomize(ResNet(depth=18)).eval()
    folded.switch_to_deploy()
    state = _saved(folded)
    assert '_deploy_marker' in state
    with pytest.raises(RuntimeError, match='saved from a deployed ResNet.*switch_to_deploy'):
        ResNet(depth=18).load_state_dict(state)
    with pytest.raises(RuntimeError, match='saved from a deployed'):
        ResNet(depth=18).load_state_dict(state, strict=False)
    path = tmp_path / 'folded.pth'
    torch.save(state, path)
    with pytest.raises(RuntimeError, match='saved from a deployed'):
        load_pretrained(ResNet(depth=18), str(path))
    # the reverse: an unfolded checkpoint into a deployed model
    target = ResNet(depth=18).eval()
    target.switch_to_deploy()
    with pytest.raises(RuntimeError, match='is deployed.*this checkpoint is not'):
        target.load_state_dict(_saved(ResNet(depth=18)), strict=False)
    # folded into folded works, and gives the same outputs
    target.load_state_dict(state)
    x = torch.randn(1, 3, 64, 64)
    assert_features_close(target(x), folded(x), atol=0, rtol=0)


def test_optimize_fp32_matches_eager(no_grad_eval):
    model = randomize(build_backbone('resnet18')).eval()
    x = torch.randn(2, 3, 64, 64)
    expected = model(x)
    fast, record = optimize(model, precision='fp32')
    assert record.precision == 'fp32'
    assert [s[0] for s in record.steps] == ['fuse', 'layout', 'precision', 'compile']
    assert fast.out_channels == model.out_channels and fast.output_shape() == \
        model.output_shape()
    assert_features_close(fast(x), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('flags, expected', [({'avx2'}, 'fp32'),
                                             ({'avx2', 'avx512_bf16'}, 'bf16'),
                                             ({'amx_bf16'}, 'bf16')])
def test_auto_precision_follows_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset(flags))
    chosen, why = choose_precision('auto', torch.device('cpu'))
    assert chosen == expected
    if expected == 'fp32':
        assert 'no native bf16' in why and 'slower' in why
    with pytest.raises(ValueError, match="precision='int4'"):
        choose_precision('int4', torch.device('cpu'))
    # int8 is a precision one asks for (with calibration data), never 'auto''s choice
    assert 'int8' not in choose_precision('auto', torch.device('cpu'))


def test_explicit_bf16_on_emulating_cpu_warns(monkeypatch):
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx2'}))
    with pytest.warns(UserWarning, match='emulated'):
        assert choose_precision('bf16', torch.device('cpu'))[0] == 'bf16'


def _activation_peak(model: nn.Module, x: torch.Tensor) -> int:
    """Peak bytes allocated during forward + backward beyond what existed before (weights and
    their already-allocated grads), from the profiler's memory events: deterministic on CPU."""
    from mmbackbones.analysis import peak_allocated_bytes
    model.train()
    model(x)[-1].mean().backward()  # grads exist before the measured step
    return peak_allocated_bytes(lambda: model(x)[-1].mean().backward())


def test_with_cp_halves_activation_memory_of_resnet50():
    x = torch.randn(2, 3, 224, 224)  # measured: 0.44 here; the stem is not checkpointed
    peaks = {}
    for with_cp in (False, True):
        torch.manual_seed(0)
        peaks[with_cp] = _activation_peak(ResNet(depth=50, with_cp=with_cp), x)
    assert peaks[True] <= 0.5 * peaks[False], \
        f'with_cp peak {peaks[True] / 2**20:.1f} MiB vs {peaks[False] / 2**20:.1f} MiB'


BF16_SKIP = None if cpu_has_native_bf16() else (
    'this CPU has no native bf16 (avx512_bf16/amx_bf16): bf16 is emulated here, the agreement '
    'check runs where it is native')


@pytest.mark.skipif(BF16_SKIP is not None, reason=str(BF16_SKIP))
def test_bf16_deploy_agrees_with_fp32_on_digits(trained_digits):
    model, batches = trained_digits
    agree = total = 0
    fp32_logits = []
    with torch.no_grad():
        for inputs, _ in batches:
            fp32_logits.append(_neck_head(model, model.backbone(inputs)))
        backbone, record = optimize(model.backbone, precision='bf16')
        assert record.precision == 'bf16'
        for (inputs, labels), ref in zip(batches, fp32_logits):
            pred = _neck_head(model, backbone(inputs)).argmax(1)
            agree += (pred == ref.argmax(1)).sum().item()
            total += len(labels)
    assert total == 360
    assert agree / total >= 0.99, f'top-1 agreement {agree / total:.2%}'


@pytest.fixture(scope='module')
def trained_digits(tmp_path_factory):
    """The README's main job, trained here for 2 epochs (about 98% val accuracy), and its val
    set as preprocessed batches."""
    import importlib.util
    import os.path as osp

    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmbackbones.config import load_config
    from mmbackbones.demos.datasets import prepare_digits
    root_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    config = osp.join(root_dir, 'configs', 'resnet', 'resnet18_8xb16_digits.py')
    tmp = tmp_path_factory.mktemp('bf16_digits')
    data = prepare_digits(str(tmp / 'data'))
    spec = importlib.util.spec_from_file_location(
        '_train_tool_deploy', osp.join(root_dir, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    work = str(tmp / 'work')
    options = [f'{loader}.dataset.data_root={data}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    assert train.main([config, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=2',
                       *options]) == 0
    cfg = load_config(config)
    init_default_scope('mmbackbones')
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    checkpoint = torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu',
                            weights_only=False)
    model.load_state_dict(checkpoint['state_dict'])
    model.eval()
    cfg.val_dataloader.dataset.data_root = data
    batches = []
    with torch.no_grad():
        for batch in Runner.build_dataloader(cfg.val_dataloader):
            batch = model.data_preprocessor(batch, False)
            labels = torch.stack([s.gt_label for s in batch['data_samples']]).flatten()
            batches.append((batch['inputs'], labels))
    return model, batches


def _neck_head(model: nn.Module, feats) -> torch.Tensor:
    """Logits from backbone features: the classifier's pooling neck and linear head (fp32)."""
    return model.head(model.neck(feats))


# ---------------------------------------------------------------- training fast paths
def test_cpu_amp_wrapper_autocasts_to_bf16(monkeypatch):
    from mmbackbones.engine import CPUAmpOptimWrapper
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx512_bf16'}))
    layer = nn.Linear(4, 4)
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    with wrapper.optim_context(layer):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_cpu_amp_refused_where_bf16_is_emulated(monkeypatch):
    from mmengine.config import Config

    from mmbackbones.config import ConfigError
    from mmbackbones.engine import CPUAmpOptimWrapper, apply_fast_paths
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx2'}))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                      model=dict(backbone=dict(type='ResNet', norm_eval=True))))
    with pytest.raises(ConfigError, match='no native bf16.*optim_wrapper.force=True'):
        apply_fast_paths(cfg, amp=True)
    optimizer = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ConfigError, match='emulated'):
        CPUAmpOptimWrapper(optimizer=optimizer)
    CPUAmpOptimWrapper(optimizer=optimizer, force=True)  # forced: allowed
    cfg.optim_wrapper.force = True
    notes = apply_fast_paths(cfg, amp=True, channels_last=True, compile=True,
                             efficient_conv_bn_eval=True)
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper' and len(notes) == 4
    assert cfg.custom_hooks == [dict(type='mmbackbones.ChannelsLastHook')]
    assert cfg.compile is True and cfg.efficient_conv_bn_eval == ['backbone']
    # where every BN of the backbone trains, the flag says that training is unchanged
    trains_bn = Config(dict(model=dict(backbone=dict(type='ResNet', frozen_stages=-1))))
    notes = apply_fast_paths(trains_bn, efficient_conv_bn_eval=True)
    assert len(notes) == 2 and 'training steps are unchanged' in notes[1]
    frozen = Config(dict(model=dict(backbone=dict(type='ResNet', frozen_stages=1))))
    assert len(apply_fast_paths(frozen, efficient_conv_bn_eval=True)) == 1


def _train_with_channels_last_hook(model: nn.Module, x: torch.Tensor):
    """Run ``ChannelsLastHook.before_train`` on ``model``, then ``model(x)``; return the outputs
    and the input that ``model.backbone.conv1`` received."""
    from types import SimpleNamespace

    from mmbackbones.engine import ChannelsLastHook
    seen = []
    model.backbone.conv1.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    ChannelsLastHook().before_train(SimpleNamespace(model=model))
    return model(x), seen[0]


def test_channels_last_hook_converts_model_and_backbone_input():
    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = ResNet(depth=18, out_indices=(3, ))

        def forward(self, x):
            return self.backbone(x)

    model = Classifier()
    _, conv1_input = _train_with_channels_last_hook(model, torch.randn(2, 3, 32, 32))
    assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert conv1_input.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_hook_on_a_3d_trunk_with_a_2d_neck():
    """A clip detector's parts: the 3D trunk goes channels_last_3d, the 2D FPN channels_last
    (``Module.to(memory_format=channels_last_3d)`` of the whole model would refuse the 4D
    weights)."""
    from mmbackbones.models.backbones import ResNet3d
    from mmbackbones.models.necks import FPN

    class ClipModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = ResNet3d(depth=18, base_channels=8, out_indices=(1, 2),
                                     with_pool2=False)
            self.neck = FPN(in_channels=[16, 32], out_channels=8, num_outs=2)

        def forward(self, x):
            feats = [f.transpose(1, 2).flatten(0, 1) for f in self.backbone(x)]
            return self.neck(feats)

    model = ClipModel()
    outs, conv1_input = _train_with_channels_last_hook(model, torch.randn(1, 3, 2, 32, 32))
    assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last_3d)
    conv2d = next(m for m in model.neck.modules() if isinstance(m, nn.Conv2d))
    assert conv2d.weight.is_contiguous(memory_format=torch.channels_last)
    assert conv1_input.is_contiguous(memory_format=torch.channels_last_3d)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 4, 4), (2, 8, 2, 2)]  # strides 8, 16


def test_cpu_amp_if_emulated_trains_fp32_and_says_why(monkeypatch):
    """if_emulated='fp32' (what a config that ships bf16 sets): fp32 where bf16 is emulated,
    with the reason in the log; bf16 where it is native; a bad value is a clear error."""
    import mmengine.logging

    from mmbackbones.engine import CPUAmpOptimWrapper
    layer = nn.Linear(4, 4)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    logged = []
    monkeypatch.setattr(mmengine.logging, 'print_log', lambda msg, **kw: logged.append(msg))
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx2'}))
    wrapper = CPUAmpOptimWrapper(optimizer=optimizer, if_emulated='fp32')
    assert not wrapper.bf16
    with wrapper.optim_context(layer):
        assert layer(torch.randn(2, 4)).dtype == torch.float32
    assert len(logged) == 1 and 'training in fp32, not bf16' in logged[0]
    monkeypatch.setattr(hardware, 'cpu_flags', lambda: frozenset({'avx512_bf16'}))
    wrapper = CPUAmpOptimWrapper(optimizer=optimizer, if_emulated='fp32')
    with wrapper.optim_context(layer):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    with pytest.raises(ValueError, match='if_emulated'):
        CPUAmpOptimWrapper(optimizer=optimizer, if_emulated='fp16')
    # enabled=False: the fp32 baseline of a config that ships bf16, on a bf16 CPU too
    wrapper = CPUAmpOptimWrapper(optimizer=optimizer, if_emulated='fp32', enabled=False)
    assert not wrapper.bf16
    with wrapper.optim_context(layer):
        assert layer(torch.randn(2, 4)).dtype == torch.float32
    with pytest.raises(TypeError, match="enabled must be True or False, got 'no'"):
        CPUAmpOptimWrapper(optimizer=optimizer, enabled='no')


def test_amp_on_cuda_drops_the_cpu_wrapper_arguments(monkeypatch):
    """--amp on a CUDA machine with a config that ships CPUAmpOptimWrapper(if_emulated=...):
    mmengine's AmpOptimWrapper does not take the CPU wrapper's arguments."""
    from mmengine.config import Config

    from mmbackbones.engine import apply_fast_paths
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = Config(dict(optim_wrapper=dict(type='CPUAmpOptimWrapper', if_emulated='fp32',
                                         optimizer=dict(type='SGD', lr=0.1))))
    apply_fast_paths(cfg, amp=True)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and 'if_emulated' not in cfg.optim_wrapper
