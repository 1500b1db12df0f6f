"""GoogLeNet: parameter counts, structure, auxiliary heads, training."""
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmbackbones.checkpoint.catalogue import metadata
from mmbackbones.models import GoogLeNet
from mmbackbones.models.backbones.googlenet import FeaturesWithAux
from mmbackbones.registry import MODELS

from conftest import has_module, n_params

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'




# configs/googlenet/metafile.yml, 1000-class FC (googlenet_tv: torchvision num_params)
@pytest.mark.parametrize('name,aux', [('googlenet', False), ('googlenet', True),
                                      ('googlenet_tv', False), ('googlenet_tv', True)])
def test_param_counts(name, aux):
    with torch.device('meta'):
        model = MODELS.build(dict(type=name, num_classes=1000, aux_logits=aux))
    assert n_params(model) == metadata(name, 'Parameters With Aux Heads' if aux else 'Parameters')


def test_paper_structure():
    model = GoogLeNet()
    assert isinstance(model.lrn1, nn.LocalResponseNorm) and isinstance(model.lrn2,
                                                                         nn.LocalResponseNorm)
    assert model.inception4c.branch3[1].conv.kernel_size == (5, 5)
    assert model.maxpool4.kernel_size == 3
    assert model.conv1.conv.bias is not None and not model.conv1.with_norm
    assert [model.inception3a.out_channels, model.inception4e.out_channels,
            model.inception5b.out_channels] == [256, 832, 1024]
    tv = MODELS.build(dict(type='googlenet_tv'))
    assert isinstance(tv.lrn1, nn.Identity)
    assert tv.inception4c.branch3[1].conv.kernel_size == (3, 3)
    assert tv.maxpool4.kernel_size == 2 and tv.conv1.bn.eps == 1e-3


def test_stages_feed_an_fpn():
    model = GoogLeNet(out_indices=(0, 1, 2)).eval()
    assert model.out_channels == (480, 832, 1024) and model.out_strides == (8, 16, 32)
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 224, 224))
    assert [tuple(o.shape[1:]) for o in outs] == [(480, 28, 28), (832, 14, 14), (1024, 7, 7)]


def test_aux_heads_run_in_training_only():
    model = GoogLeNet(num_classes=5, aux_logits=True, pooling='torchvision', out_indices=-1)
    calls = []
    model.aux1.register_forward_hook(lambda *_: calls.append('aux1'))
    model.aux2.register_forward_hook(lambda *_: calls.append('aux2'))
    x = torch.rand(2, 3, 96, 96)
    outs = model.train()(x)
    assert isinstance(outs, FeaturesWithAux) and outs[0].shape == (2, 5)
    assert [a.shape for a in outs.aux_logits] == [(2, 5), (2, 5)]
    assert calls == ['aux1', 'aux2']
    calls.clear()
    with torch.no_grad():
        outs = model.eval()(x)
    assert type(outs) is tuple and not calls


def test_paper_aux_pool_is_5x5_stride_3():
    model = GoogLeNet(num_classes=5, aux_logits=True).train()
    assert (model.aux1.pool.kernel_size, model.aux1.pool.stride) == (5, 3)
    assert [a.shape for a in model(torch.rand(1, 3, 224, 224)).aux_logits] == [(1, 5)] * 2
    with pytest.raises(ValueError, match="pooling='torchvision'"):
        model(torch.rand(1, 3, 96, 96))


def test_frozen_classifier_freezes_aux_heads():
    model = GoogLeNet(num_classes=5, aux_logits=True, frozen_stages=4)
    assert not any(p.requires_grad for p in model.parameters())
    model = GoogLeNet(num_classes=5, aux_logits=True, frozen_stages=3)
    assert all(p.requires_grad for p in model.aux1.parameters())


@pytest.mark.parametrize('kwargs,words', [
    (dict(aux_logits=True), ['aux_logits', 'num_classes']),
    (dict(out_indices=3), ['out_indices', 'num_classes']),
    (dict(num_classes=10, out_indices=(4, )), ['out_indices', '4']),
    (dict(branch3_kernel_size=7), ['branch3_kernel_size=7', '5, 3']),
    (dict(pooling='caffe'), ['pooling', 'caffe']),
    (dict(norm_eval=True), ['norm_eval', 'norm_cfg']),
    (dict(dropout=1.5), ['dropout=1.5']),
])
def test_bad_arguments_name_themselves(kwargs, words):
    with pytest.raises(ValueError) as info:
        GoogLeNet(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_variants_refuse_contradictions():
    with pytest.raises(ValueError, match='branch3_kernel_size'):
        MODELS.build(dict(type='googlenet_tv', branch3_kernel_size=5))
    with pytest.raises(ValueError, match='norm_cfg'):
        MODELS.build(dict(type='googlenet', norm_cfg=dict(type='BN')))
    with pytest.raises(ValueError, match='norm_cfg'):
        MODELS.build(dict(type='googlenet_tv', norm_cfg=None))


# ------------------------------------------------------------------ training from the config
@pytest.mark.slow
@pytest.mark.skipif(not has_module('mmpretrain'), reason='mmpretrain is not installed')
def test_training_with_aux_heads_from_config():
    """The paper classifier from configs/_base_/models/googlenet.py trains: aux losses are
    0.3 x CE in training, absent in predict, and the loss on a tiny batch goes down."""
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS as ROOT_MODELS
    from mmpretrain.structures import DataSample

    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'models' / 'googlenet.py'))
    cfg.model.backbone.num_classes = 4
    cfg.model.data_preprocessor = dict(mean=[123.675, 116.28, 103.53],
                                       std=[58.395, 57.12, 57.375], to_rgb=True)
    torch.manual_seed(0)
    model = ROOT_MODELS.build(cfg.model)
    model.init_weights()
    g = torch.Generator().manual_seed(0)
    data = dict(inputs=[torch.randint(0, 256, (3, 224, 224), generator=g, dtype=torch.uint8)
                        for _ in range(2)],
                data_samples=[DataSample().set_gt_label(label) for label in (1, 3)])
    target = torch.tensor([1, 3])

    def eval_loss() -> float:  # deterministic: no dropout, no aux heads
        model.eval()
        calls = []
        hook = model.backbone.aux1.register_forward_hook(lambda *_: calls.append(1))
        with torch.no_grad():
            preds = model.val_step(data)
        hook.remove()
        assert not calls, 'the auxiliary heads ran in predict'
        scores = torch.stack([p.pred_score for p in preds])
        return F.nll_loss(scores.log(), target).item()

    before = eval_loss()
    model.train()
    inputs = model.data_preprocessor(data, True)
    feats = model.extract_feat(inputs['inputs'])
    losses = model.head.loss(feats, inputs['data_samples'])
    assert sorted(losses) == ['loss', 'loss_aux1', 'loss_aux2']
    for i, aux in enumerate(feats.aux_logits, 1):
        torch.testing.assert_close(losses[f'loss_aux{i}'], 0.3 * F.cross_entropy(aux, target))

    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9))
    for _ in range(4):
        log = model.train_step(data, optim)
        assert {'loss', 'loss_aux1', 'loss_aux2'} <= set(log)
        assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
    assert eval_loss() < before
