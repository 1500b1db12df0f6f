"""The mmdetection tier: our configs under configs/mmdet/ build through mmdet's own registry,
train one step and predict; frozen_stages/norm_eval behave as mmdet's own ResNet inside a
detector. Needs mmdet 3.x and full mmcv (`bash tools/install.sh --with-mmdet`)."""
import copy
import glob
import os.path as osp

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from conftest import why_no_mmdet

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'mmdet', '*.py')))



REASON = why_no_mmdet()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(REASON is not None, reason=str(REASON))]


def build_detector(model_cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    return MODELS.build(copy.deepcopy(model_cfg))


def load_config(path):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    # no downloads in tests: random init instead of the configs' Pretrained checkpoints
    cfg.model.backbone.init_cfg = None
    return cfg


def tiny_batch(model, training):
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(batch_size=2, image_shapes=[(3, 96, 128)] * 2, num_items=[3, 2],
                            num_classes=80, with_mask=False)
    return model.data_preprocessor(packed, training)


def total_loss(losses):
    parts = []
    for value in losses.values():
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            if v.requires_grad:
                parts.append(v.sum())
    return sum(parts)


def test_there_are_configs_for_every_family():
    names = ' '.join(osp.basename(p) for p in CONFIGS)
    for family in ('retinanet_r50', 'faster-rcnn_r50', 'x101', 'res2net', 'vgg16'):
        assert family in names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_trains_a_step_and_predicts(path):
    cfg = load_config(path)
    model = build_detector(cfg.model)
    assert type(model.backbone).__module__.startswith('mmbackbones.')
    assert type(model.neck).__module__.startswith('mmbackbones.')
    assert model.neck.in_channels == list(model.backbone.out_channels)
    model.init_weights()
    model.train()
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss = total_loss(model(**tiny_batch(model, True), mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    optim.step()
    model.eval()
    with torch.no_grad():
        results = model(**tiny_batch(model, False), mode='predict')
    assert len(results) == 2
    for res in results:
        boxes = res.pred_instances.bboxes
        assert boxes.ndim == 2 and boxes.shape[1] == 4 and torch.isfinite(boxes).all()


def test_frozen_stages_and_norm_eval_match_mmdets_resnet_in_a_detector():
    cfg = load_config(osp.join(ROOT, 'configs', 'mmdet', 'faster-rcnn_r50_fpn_1x_coco.py'))
    states = {}
    for backbone_type in ('ResNet', 'mmbackbones.ResNet'):  # mmdet's own, then ours
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.backbone.type = backbone_type
        model_cfg.backbone.frozen_stages = 2
        if backbone_type == 'ResNet':  # mmdet's ResNet publishes no channels: type them
            model_cfg.neck.in_channels = [256, 512, 1024, 2048]
        model = build_detector(model_cfg)
        model.train()
        backbone = model.backbone
        before = {k: v.clone() for k, v in backbone.state_dict().items()}
        optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        total_loss(model(**tiny_batch(model, True), mode='loss')).backward()
        optim.step()
        states[backbone_type] = dict(
            trainable={n for n, p in backbone.named_parameters() if p.requires_grad},
            # train/eval matters for norm layers only
            training={n for n, m in backbone.named_modules()
                      if isinstance(m, _BatchNorm) and m.training},
            unchanged={k for k, v in backbone.state_dict().items()
                       if torch.equal(v, before[k]) and v.is_floating_point()})
    theirs, ours = states['ResNet'], states['mmbackbones.ResNet']
    assert ours['trainable'] == theirs['trainable']
    assert ours['training'] == theirs['training']
    assert ours['unchanged'] == theirs['unchanged']
    assert any(k.startswith('layer2.') for k in ours['unchanged'])  # frozen
    assert any(k.startswith('layer3.') and k.endswith('running_mean')
               for k in ours['unchanged'])  # norm_eval keeps BN statistics
    assert not any(k.startswith('layer3.') and k.endswith('conv1.weight')
                   for k in ours['unchanged'])  # trained
