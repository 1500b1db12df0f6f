"""The contract every registered backbone keeps; a new backbone joins by being registered."""
import sys

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from conftest import accepts, build_backbone, example_input, registered_backbones

NAMES = registered_backbones()


def test_registry_is_not_empty():
    assert {'ResNet', 'ResNetV1c', 'ResNetV1d', 'ResNet_CIFAR', 'resnet50'} <= set(NAMES)


@pytest.mark.parametrize('name', NAMES)
def test_forward_matches_published_shapes(name):
    model = build_backbone(name).eval()
    x = example_input(model)
    with torch.no_grad():
        outs = model(x)
    assert isinstance(outs, tuple)
    assert len(outs) == len(model.out_indices) == len(model.out_channels)
    spatial = x.shape[2:]
    for out, spec in zip(outs, model.output_shape()):
        assert out.shape[0] == x.shape[0]
        assert out.shape[1] == spec.channels
        # every spatial dim is the input's divided by the published stride
        expected = tuple(-(-s // spec.stride) for s in spatial[-2:])
        assert tuple(out.shape[-2:]) == expected
        assert torch.isfinite(out).all()


@pytest.mark.parametrize('name', NAMES)
def test_out_indices_order_and_negative(name):
    model = build_backbone(name)
    last = model.num_stages - 1
    model = build_backbone(name, out_indices=(-1, 0)).eval()
    assert model.out_indices == (last, 0)
    assert model.out_channels == (model.stage_channels[last], model.stage_channels[0])
    with torch.no_grad():
        outs = model(example_input(model))
    assert [o.shape[1] for o in outs] == list(model.out_channels)


@pytest.mark.parametrize('name', NAMES)
def test_backward_reaches_every_parameter(name):
    model = build_backbone(name).train()
    outs = model(example_input(model))
    sum(o.float().mean() for o in outs).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f'no gradient for {missing[:5]}'


@pytest.mark.parametrize('name', NAMES)
def test_frozen_stages_are_frozen(name):
    probe = build_backbone(name)
    for frozen in (0, 1, probe.num_stages):
        model = build_backbone(name, frozen_stages=frozen).train()
        frozen_modules = model.frozen_modules()
        # frozen_stages>=0 freezes at least the stem; a stem-less backbone (VGG) freezes
        # nothing at 0
        assert frozen_modules or (frozen == 0 and not model._stem_modules), \
            'frozen_stages>=0 must freeze at least the stem'
        frozen_ids = {id(p) for m in frozen_modules for p in m.parameters()}
        stats_before = {k: v.clone() for m in frozen_modules for k, v in m.state_dict().items()}
        outs = model(example_input(model))
        if any(o.requires_grad for o in outs):
            sum(o.mean() for o in outs).backward()
        for m in frozen_modules:
            assert not m.training, f'{type(m).__name__} of a frozen stage is in train mode'
        for n, p in model.named_parameters():
            if id(p) in frozen_ids:
                assert not p.requires_grad and p.grad is None, n
            else:
                assert p.requires_grad and p.grad is not None, n
        stats_after = {k: v for m in frozen_modules for k, v in m.state_dict().items()}
        for k, v in stats_before.items():
            assert torch.equal(v, stats_after[k]), f'frozen state {k} changed in a train step'


@pytest.mark.parametrize('name', NAMES)
def test_norm_eval_keeps_bn_in_eval(name):
    if not any(isinstance(m, _BatchNorm) for m in build_backbone(name).modules()):
        # without norm layers (VGG, GoogLeNet as in their papers) norm_eval=True is an error
        with pytest.raises(ValueError, match='norm_eval'):
            build_backbone(name, norm_eval=True)
        return
    model = build_backbone(name, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    model = build_backbone(name, norm_eval=False).train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))


@pytest.mark.parametrize('name', NAMES)
def test_with_cp_gives_same_gradients(name, monkeypatch):
    calls = []
    real = torch.utils.checkpoint.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.utils.checkpoint, 'checkpoint', counting)
    torch.manual_seed(0)
    plain = build_backbone(name).train()
    ckpt = build_backbone(name, with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = example_input(plain)
    grads = []
    for model in (plain, ckpt):
        outs = model(x)
        sum((o * o).mean() for o in outs).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert calls, 'with_cp=True never called torch.utils.checkpoint'
    for n, g in grads[0].items():
        torch.testing.assert_close(grads[1][n], g, rtol=1e-4, atol=1e-6, msg=n)


@pytest.mark.parametrize('name', [n for n in NAMES if accepts(n, 'dcn')])
def test_dcn_without_compiled_ops_is_a_clear_error(name, monkeypatch):
    """mmcv-lite has no mmcv.ops (simulated where full mmcv is installed): asking for
    deformable convs says what to install, before anything is built."""
    monkeypatch.setitem(sys.modules, 'mmcv.ops', None)
    with pytest.raises(ImportError, match='mmcv with compiled ops.*build_mmcv'):
        build_backbone(name, dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False))
