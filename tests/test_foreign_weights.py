"""Foreign checkpoints, one table row per (layout, family, variant): build the other library's
model, save its checkpoint the way that library does, load it into ours and compare every stage
output. A row with ``report=True`` loads with ``load_pretrained(min_match=1.0)`` and checks the
layout the report names (a layout without such a row fails ``test_every_layout_has_a_row``); the
others load through ``init_cfg=dict(type='Pretrained', ...)``. What a row cannot say is a named
test next to the table (GoogLeNet's auxiliary heads, detectron2's folded BN and inflation)."""
from __future__ import annotations

import copy
import pickle
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmbackbones.checkpoint import LAYOUTS, inflate_pretrained, load_pretrained
from mmbackbones.models import ResNet, ResNet3d
from mmbackbones.registry import MODELS
from mmbackbones.utils.fileio import save_atomic

from conftest import (
    I3D,
    I3D_R50,
    R3D_18,
    assert_features_close,
    has_module,
    load_into_ours,
    mmaction_resnet3d_module,
    randomize,
    requires_mmdet,
    seeded_input,
)

X = seeded_input(2, 3, 64, 64)
X96 = seeded_input(2, 3, 96, 96)
X224 = seeded_input(1, 3, 224, 224, seed=2)


@dataclass
class Case:
    """A foreign checkpoint file, the config of ours that should load it, and the foreign
    model's stage outputs for an input."""
    checkpoint: Path
    ours: dict
    theirs: Callable[[torch.Tensor], list]
    x: torch.Tensor = X
    #: A further check of the row, given the case (e.g. that a wrong option gives other outputs).
    also: Callable[[Case], None] | None = None


def stages(model: nn.Module, stem: Callable, names=('layer1', 'layer2', 'layer3', 'layer4')):
    """The outputs of a ResNet-like model's stages after ``stem``, as a function of the input."""

    def run(x):
        x, outs = stem(x), []
        for name in names:
            x = getattr(model, name)(x)
            outs.append(x)
        return outs

    return run


# ------------------------------------------------------------------------ detectron2
# detectron2 cannot be installed here. This is a minimal re-implementation of its ResNet forward,
# written from facebookresearch/detectron2 (commit 02b5c4e): detectron2/layers/batch_norm.py
# (FrozenBatchNorm2d: buffers weight/bias/running_mean/running_var, eps=1e-5, eval batch_norm),
# detectron2/layers/wrappers.py (Conv2d: conv, then its ``norm`` attribute) and
# detectron2/modeling/backbone/resnet.py (BasicStem, BasicBlock, BottleneckBlock with
# ``stride_in_1x1``, ResNet.make_default_stages: stages res2..res5, shortcut iff in != out).
class D2FrozenBatchNorm2d(nn.Module):

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer('weight', torch.ones(num_features))
        self.register_buffer('bias', torch.zeros(num_features))
        self.register_buffer('running_mean', torch.zeros(num_features))
        self.register_buffer('running_var', torch.ones(num_features) - eps)

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=False, eps=self.eps)


class D2Conv2d(nn.Conv2d):

    def __init__(self, *args, norm: nn.Module, **kwargs):
        super().__init__(*args, bias=False, **kwargs)
        self.norm = norm

    def forward(self, x):
        return self.norm(super().forward(x))


def d2_conv(cin: int, cout: int, k: int, stride: int = 1) -> D2Conv2d:
    return D2Conv2d(cin, cout, k, stride=stride, padding=k // 2, norm=D2FrozenBatchNorm2d(cout))


class D2BasicStem(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv1 = d2_conv(3, 64, 7, stride=2)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.conv1(x)), kernel_size=3, stride=2, padding=1)


class D2Block(nn.Module):
    """BasicBlock (``bottleneck=None``) or BottleneckBlock."""

    def __init__(self, cin: int, cout: int, stride: int, bottleneck: int | None,
                 stride_in_1x1: bool):
        super().__init__()
        self.shortcut = d2_conv(cin, cout, 1, stride) if cin != cout else None
        if bottleneck is None:
            self.conv1, self.conv2 = d2_conv(cin, cout, 3, stride), d2_conv(cout, cout, 3)
            self.convs = (self.conv1, self.conv2)
        else:
            s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
            self.conv1 = d2_conv(cin, bottleneck, 1, s1)
            self.conv2 = d2_conv(bottleneck, bottleneck, 3, s3)
            self.conv3 = d2_conv(bottleneck, cout, 1)
            self.convs = (self.conv1, self.conv2, self.conv3)

    def forward(self, x):
        out = x
        for i, conv in enumerate(self.convs):
            out = conv(out)
            if i < len(self.convs) - 1:
                out = F.relu(out)
        out = out + (self.shortcut(x) if self.shortcut is not None else x)
        return F.relu(out)


class D2ResNet(nn.Module):

    def __init__(self, depth: int, stride_in_1x1: bool):
        super().__init__()
        blocks = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3)}[depth]
        ins, outs = ((64, 64, 128, 256), (64, 128, 256, 512)) if depth < 50 else \
            ((64, 256, 512, 1024), (256, 512, 1024, 2048))
        self.stem = D2BasicStem()
        for i, (n, cin, cout) in enumerate(zip(blocks, ins, outs)):
            bottleneck = cout // 4 if depth >= 50 else None
            setattr(self, f'res{i + 2}', nn.Sequential(*[
                D2Block(cin if j == 0 else cout, cout, (1 if i == 0 else 2) if j == 0 else 1,
                        bottleneck, stride_in_1x1) for j in range(n)]))


def d2_names_from_caffe2(key: str) -> str:
    """detectron2's own Caffe2 -> detectron2 renaming for backbone names, transcribed from
    ``convert_basic_c2_names`` (detectron2/checkpoint/c2_model_loading.py): it checks that the
    Caffe2 names this test writes are the ones detectron2 reads."""
    key = key.replace('_', '.')
    key = re.sub(r'\.b$', '.bias', key)
    key = re.sub(r'\.w$', '.weight', key)
    key = re.sub(r'bn\.s$', 'norm.weight', key)
    key = re.sub(r'bn\.bias$', 'norm.bias', key)
    key = re.sub(r'^res\.conv1\.norm\.', 'conv1.norm.', key)
    key = re.sub(r'^conv1\.', 'stem.conv1.', key)
    for c2, d2 in (('.branch1.', '.shortcut.'), ('.branch2a.', '.conv1.'),
                   ('.branch2b.', '.conv2.'), ('.branch2c.', '.conv3.')):
        key = key.replace(c2, d2)
    return key


def caffe2_name(key: str) -> str:
    """detectron2 name -> Caffe2 blob name (``res2.0.conv1.norm.weight`` ->
    ``res2_0_branch2a_bn_s``)."""
    key = re.sub(r'^stem\.conv1\.norm\.', 'res_conv1.norm.', key)
    key = re.sub(r'^stem\.', '', key)
    for d2, c2 in (('.shortcut.', '.branch1.'), ('.conv1.', '.branch2a.'),
                   ('.conv2.', '.branch2b.'), ('.conv3.', '.branch2c.')):
        key = key.replace(d2, c2)
    for d2, c2 in (('.norm.weight', '_bn_s'), ('.norm.bias', '_bn_b'), ('.weight', '_w')):
        key = re.sub(re.escape(d2) + '$', c2, key)
    return key.replace('.', '_')


def fold_frozen_bn(model: nn.Module) -> None:
    """Caffe2 MSRA weights: BN folded into ``x * s + b`` (mean 0, var ``1 - eps``)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, D2FrozenBatchNorm2d):
                scale = m.weight / (m.running_var + m.eps).sqrt()
                m.bias.sub_(m.running_mean * scale)
                m.weight.copy_(scale)
                m.running_mean.zero_()
                m.running_var.fill_(1 - m.eps)


def d2_features(model: D2ResNet) -> Callable:
    return stages(model, model.stem, names=('res2', 'res3', 'res4', 'res5'))


def write_pkl(path: Path, obj) -> Path:
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=2)  # Caffe2-era files are Python 2 pickles
    return path


def detectron2_caffe2_names(tmp_path) -> Case:
    """A Caffe2 Detectron ``.pkl`` (``blobs``, with ``_momentum`` entries and the classifier) of
    the MSRA ResNet-50: stride in the 1x1 conv, folded BN."""
    theirs = randomize(D2ResNet(50, stride_in_1x1=True)).eval()
    fold_frozen_bn(theirs)
    blobs = {}
    for key, value in theirs.state_dict().items():
        if key.endswith(('running_mean', 'running_var')):
            continue  # Caffe2 MSRA files hold only the folded scale and bias
        name = caffe2_name(key)
        assert d2_names_from_caffe2(name) == key, (name, key)
        blobs[name] = value.numpy()
        if name.endswith('_w'):
            blobs[f'{name}_momentum'] = value.numpy() * 0
    blobs['fc1000_w'] = torch.randn(1000, 2048).numpy()
    path = write_pkl(tmp_path / 'R-50.pkl', {'blobs': blobs})
    return Case(path, dict(type='ResNet', depth=50, style='caffe'), d2_features(theirs))


def detectron2_names(tmp_path) -> Case:
    """A detectron2 model-zoo ``.pkl`` (``{'model': ..., '__author__': ...}``) of an FPN
    detector with a ResNet-18 (BasicBlock) body under ``backbone.bottom_up.``."""
    theirs = randomize(D2ResNet(18, stride_in_1x1=False)).eval()
    model = {f'backbone.bottom_up.{k}': v.numpy() for k, v in theirs.state_dict().items()}
    model['backbone.fpn_lateral2.weight'] = torch.zeros(256, 64, 1, 1).numpy()
    model['proposal_generator.rpn_head.conv.weight'] = torch.zeros(256, 256, 3, 3).numpy()
    path = write_pkl(tmp_path / 'model_final.pkl',
                     {'model': model, '__author__': 'Detectron2 Model Zoo'})
    return Case(path, dict(type='ResNet', depth=18), d2_features(theirs))


# ------------------------------------------------------------------------ other rows
def mmbackbones_own(tmp_path) -> Case:
    theirs = randomize(ResNet(depth=18)).eval()
    path = tmp_path / 'ours.pth'
    torch.save(theirs.state_dict(), path)
    return Case(path, dict(type='ResNet', depth=18), lambda x: list(theirs(x)))


def torchvision_resnet(tmp_path, arch: str = 'resnet18', ours: dict | None = None,
                       x: torch.Tensor = X) -> Case:
    """A torchvision classification ResNet/ResNeXt (``torchvision.models.<arch>``)."""
    import torchvision
    theirs = randomize(getattr(torchvision.models, arch)(weights=None)).eval()
    path = tmp_path / f'{arch}.pth'
    torch.save(theirs.state_dict(), path)
    stem = nn.Sequential(theirs.conv1, theirs.bn1, theirs.relu, theirs.maxpool)
    return Case(path, ours or dict(type='ResNet', depth=18), stages(theirs, stem), x)


def torchvision_faster_rcnn(tmp_path) -> Case:
    """A torchvision Faster R-CNN checkpoint: the ResNet body (FrozenBatchNorm2d) under
    ``backbone.body.``, next to the FPN, RPN and ROI heads."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    theirs = FasterRCNN(resnet_fpn_backbone(backbone_name='resnet18', weights=None),
                        num_classes=3)
    randomize(theirs).eval()
    path = tmp_path / 'fasterrcnn_resnet18_fpn.pth'
    torch.save(theirs.state_dict(), path)
    body = theirs.backbone.body
    stem = nn.Sequential(body.conv1, body.bn1, body.relu, body.maxpool)
    return Case(path, dict(type='ResNet', depth=18), stages(body, stem))


def flat_stage_outputs(features: nn.Sequential, x: torch.Tensor) -> list:
    """torchvision/timm VGG ``features``: the output after each max pool is a stage output."""
    outs = []
    for layer in features:
        x = layer(x)
        if isinstance(layer, nn.MaxPool2d):
            outs.append(x)
    return outs


def vgg_case(path: Path, theirs: nn.Module, with_bn: bool) -> Case:
    """A torchvision/timm VGG-11 with 10 classes: every stage output and the logits."""
    torch.save(theirs.state_dict(), path)
    ours = dict(type='VGG', depth=11, num_classes=10,
                norm_cfg=dict(type='BN') if with_bn else None)
    return Case(path, ours, lambda x: flat_stage_outputs(theirs.features, x) + [theirs(x)], X224)


def torchvision_vgg(tmp_path, arch: str, with_bn: bool) -> Case:
    import torchvision
    theirs = randomize(getattr(torchvision.models, arch)(weights=None, num_classes=10)).eval()
    return vgg_case(tmp_path / f'{arch}.pth', theirs, with_bn)


def timm_vgg(tmp_path) -> Case:
    """timm's pre_logits ConvMlp (7x7 and 1x1 convs) and head.fc become classifier.0/3/6."""
    import timm
    theirs = randomize(timm.create_model('vgg11_bn', pretrained=False, num_classes=10)).eval()
    return vgg_case(tmp_path / 'vgg11_bn.pth', theirs, with_bn=True)


def timm_model(tmp_path, arch: str, ours: dict, suffix: str = '.pth',
               x: torch.Tensor = X96) -> Case:
    """A timm ResNet-like model, saved as ``.pth`` or ``.safetensors``; its stage outputs by
    ``forward_intermediates``."""
    import timm
    theirs = randomize(timm.create_model(arch, pretrained=False)).eval()
    path = tmp_path / f'{arch}{suffix}'
    if suffix == '.safetensors':
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in theirs.state_dict().items()}, str(path))
    else:
        torch.save(theirs.state_dict(), path)
    return Case(path, ours, lambda x: theirs.forward_intermediates(
        x, indices=[1, 2, 3, 4], intermediates_only=True), x)


def mmpretrain_classifier(tmp_path, backbone: dict | None = None, in_channels: int = 512,
                          ours: dict | None = None, meta: dict | None = None,
                          atomic: bool = False, x: torch.Tensor = X, also=None,
                          neck: dict | None = dict(type='GlobalAveragePooling'),
                          head: dict | None = None) -> Case:
    """An mmpretrain ImageClassifier checkpoint ('backbone.' keys + head, meta), built from a
    backbone config of theirs that our registry builds unchanged (``ours`` defaults to it)."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    backbone = backbone or dict(type='ResNetV1d', depth=18, out_indices=(0, 1, 2, 3))
    head = head or dict(type='LinearClsHead', num_classes=10, in_channels=in_channels)
    theirs = PRETRAIN_MODELS.build(dict(type='ImageClassifier', backbone=backbone, neck=neck,
                                        head=head))
    randomize(theirs).eval()
    path = tmp_path / 'epoch_1.pth'
    state = {'meta': meta or {'epoch': 1}, 'state_dict': theirs.state_dict()}
    if atomic:
        save_atomic(state, str(path))
    else:
        torch.save(state, path)
    return Case(path, ours or backbone, lambda x: list(theirs.backbone(x)), x, also)


def mmpretrain_resnet(tmp_path, cfg: dict) -> Case:
    backbone = dict(cfg, num_stages=4, out_indices=(0, 1, 2, 3), style='pytorch')
    return mmpretrain_classifier(
        tmp_path, backbone, 512 if cfg['depth'] < 50 else 2048, atomic=True, x=X96,
        meta={'epoch': 1, 'dataset_meta': {'classes': ['a', 'b']}})


def mmpretrain_resnext(tmp_path, extra: dict) -> Case:
    backbone = dict(type='ResNeXt', depth=50, num_stages=4, out_indices=(0, 1, 2, 3), groups=32,
                    width_per_group=4, style='pytorch', **extra)
    return mmpretrain_classifier(tmp_path, backbone, 2048, atomic=True, x=X96)


def res2net_default_differs(case: Case) -> None:
    """Without ``stride1_pool`` (ours pools the last split only in the first block of a
    stage) the features are not mmpretrain's."""
    cfg = {k: v for k, v in case.ours.items() if k != 'stride1_pool'}
    with torch.no_grad():
        default = load_into_ours(case.checkpoint, **cfg)(case.x)
        expected = case.theirs(case.x)
    assert not torch.allclose(default[0], expected[0], atol=1e-3)


def mmpretrain_res2net(tmp_path, v1b: bool) -> Case:
    """mmpretrain pools the last split at stride 1: equal with stride1_pool=True, not without."""
    backbone = dict(type='Res2Net', depth=50, scales=4, base_width=26, deep_stem=v1b,
                    avg_down=v1b, out_indices=(0, 1, 2, 3))
    return mmpretrain_classifier(tmp_path, backbone, 2048, ours=dict(backbone, stride1_pool=True),
                                 atomic=True, x=X96, also=res2net_default_differs)


def mmpretrain_vgg(tmp_path) -> Case:
    """mmpretrain's VGG-11-BN classifier; ours returns the classifier only if asked."""
    backbone = dict(type='VGG', depth=11, norm_cfg=dict(type='BN'), num_classes=10,
                    out_indices=(0, 1, 2, 3, 4))
    return mmpretrain_classifier(tmp_path, backbone, ours=dict(backbone,
                                                               out_indices=(0, 1, 2, 3, 4, 5)),
                                 atomic=True, x=X224, neck=None, head=dict(type='ClsHead'))


def mmdet_detector(tmp_path, cfg: dict | None = None, extra: dict | None = None,
                   x: torch.Tensor = X) -> Case:
    """An mmdet detector checkpoint ('backbone.' + ``extra`` neck/head keys, meta) from mmdet's
    own backbone, built from the same config as ours."""
    from mmdet.registry import MODELS as DET_MODELS
    cfg = cfg or dict(type='ResNet', depth=18, norm_eval=True)
    extra = {'rpn_head.rpn_conv.weight': (256, 256, 3, 3)} if extra is None else extra
    theirs = randomize(DET_MODELS.build(copy.deepcopy(cfg)))
    theirs.eval()  # mmdet's ResNet.train() returns None, so no chaining
    state = {f'backbone.{k}': v for k, v in theirs.state_dict().items()}
    state.update({k: torch.zeros(shape) for k, shape in extra.items()})
    path = tmp_path / 'faster_rcnn.pth'
    torch.save({'meta': {'mmdet_version': '3.3.0'}, 'state_dict': state}, path)
    return Case(path, cfg, lambda x: list(theirs(x)), x)


def mmaction2_recognizer(tmp_path, cfg: dict | None = None, x: torch.Tensor | None = None) -> Case:
    """An mmaction2 Recognizer3D checkpoint ('backbone.' + 'cls_head.' keys, ConvModule names)
    from mmaction2's own ResNet3d, built from the same dict as ours."""
    cfg = cfg or dict(depth=18, base_channels=16, inflate=(1, (1, 0), 0, 1),
                      conv1_kernel=(3, 7, 7))
    cfg = {k: v for k, v in cfg.items() if k != 'type'}
    theirs = randomize(mmaction_resnet3d_module().ResNet3d(**cfg, out_indices=(0, 1, 2, 3)))
    theirs.eval()  # mmaction2's train() returns None
    with torch.no_grad():  # random non-local weights at full scale overflow dot products
        for name, p in theirs.named_parameters():
            if 'non_local_block' in name:
                p.mul_(0.1)
    state = {f'backbone.{k}': v for k, v in theirs.state_dict().items()}
    state['cls_head.fc_cls.weight'] = torch.zeros(400, theirs.feat_dim)
    path = tmp_path / 'i3d.pth'
    torch.save({'meta': {'mmaction_version': '1.2.0'}, 'state_dict': state}, path)
    if x is None:
        x = seeded_input(1, 3, 8, 48, 48, seed=2)
    return Case(path, dict(cfg, type='ResNet3d'), lambda x: list(theirs(x)), x)


def torchvision_r3d_18(tmp_path) -> Case:
    import torchvision
    theirs = randomize(torchvision.models.video.r3d_18(weights=None)).eval()
    path = tmp_path / 'r3d_18.pth'
    torch.save(theirs.state_dict(), path)
    return Case(path, dict(R3D_18), stages(theirs, theirs.stem), seeded_input(1, 3, 8, 56, 56))


def needs(module: str, install: str):
    return pytest.mark.skipif(not has_module(module),
                              reason=f'{module} is not installed ({install})')


def row(layout: str, make: Callable, id: str, *marks, report: bool = True):
    """A table row: the layout the file is in, the builder of the foreign checkpoint, and
    whether the test checks the load report (``load_pretrained``) or loads through
    ``init_cfg`` Pretrained."""
    return pytest.param(layout, report, make, id=id, marks=list(marks))


SLOW = pytest.mark.slow
TORCHVISION = needs('torchvision', 'pip install torchvision')
TIMM = needs('timm', 'pip install timm')
MMPRETRAIN = needs('mmpretrain', 'pip install mmpretrain==1.2.0')
MMACTION = needs('mmaction', 'bash tools/install.sh --with-mmaction')
GCB = [dict(cfg=dict(type='ContextBlock', ratio=1. / 16), stages=(False, True, True, True),
            position='after_conv3')]
DCN = dict(type='DCN', deform_groups=1, fallback_on_stride=False)
NECK = {'neck.lateral_convs.0.conv.weight': (256, 256, 1, 1)}


def init_cfg_row(layout: str, make: Callable, id: str, *marks):
    """A slow row that loads through ``init_cfg`` Pretrained."""
    return row(layout, make, id, SLOW, *marks, report=False)


#: One row per (layout, family, variant). ``report=True`` rows: one per layout at least.
ROWS = [
    # --- the layouts: the report must name them
    row('mmbackbones', mmbackbones_own, 'mmbackbones'),
    row('torchvision', torchvision_resnet, 'torchvision', TORCHVISION),
    row('torchvision_detection', torchvision_faster_rcnn, 'torchvision_detection', TORCHVISION),
    row('timm', partial(timm_model, arch='resnet18d', ours=dict(type='ResNetV1d', depth=18),
                        x=X), 'timm', TIMM),
    row('mmpretrain', mmpretrain_classifier, 'mmpretrain', MMPRETRAIN),
    row('mmdet', mmdet_detector, 'mmdet', requires_mmdet),
    row('mmaction2', mmaction2_recognizer, 'mmaction2', MMACTION),
    row('detectron2', detectron2_caffe2_names, 'detectron2-caffe2-names'),
    row('detectron2', detectron2_names, 'detectron2'),
    # --- ResNet and its variants
    *[init_cfg_row('torchvision', partial(torchvision_resnet, arch=arch, ours=cfg, x=X96),
                   f'torchvision-{arch}', TORCHVISION) for arch, cfg in [
        ('resnet18', dict(type='ResNet', depth=18)),
        ('resnet50', dict(type='ResNet', depth=50)),
        ('resnext50_32x4d', dict(type='ResNet', depth=50, groups=32, base_width=4)),
    ]],
    *[init_cfg_row('timm', partial(timm_model, arch=arch, ours=cfg, suffix=suffix),
                   f'timm-{arch}{suffix}', TIMM) for arch, cfg, suffix in [
        ('resnet50d', dict(type='ResNetV1d', depth=50), '.safetensors'),
        ('resnet18d', dict(type='ResNetV1d', depth=18), '.pth'),
        ('resnet50c', dict(type='ResNetV1c', depth=50), '.pth'),
        ('resnet34', dict(type='ResNet', depth=34), '.safetensors'),
    ]],
    *[init_cfg_row('mmpretrain', partial(mmpretrain_resnet, cfg=cfg),
                   f'mmpretrain-{cfg["type"]}{cfg["depth"]}', MMPRETRAIN) for cfg in [
        dict(type='ResNet', depth=50),
        dict(type='ResNet', depth=18),
        dict(type='ResNetV1c', depth=50),
        dict(type='ResNetV1d', depth=50),
        dict(type='ResNet_CIFAR', depth=18),
    ]],
    *[init_cfg_row('mmdet', partial(mmdet_detector, cfg=cfg, extra=NECK, x=X96),
                   f'mmdet-resnet-{i}', requires_mmdet) for i, cfg in enumerate([
        dict(type='ResNet', depth=50, frozen_stages=1, norm_eval=True, style='pytorch'),
        dict(type='ResNet', depth=101, style='caffe'),
        dict(type='ResNetV1d', depth=50),
        dict(type='ResNet', depth=50, plugins=GCB),
        dict(type='ResNet', depth=50, dcn=DCN, stage_with_dcn=(False, True, True, True)),
    ])],
    # --- ResNeXt
    init_cfg_row('torchvision', partial(torchvision_resnet, arch='resnext50_32x4d',
                                        ours=dict(type='resnext50_32x4d'), x=X96),
                 'torchvision-resnext50_32x4d-variant', TORCHVISION),
    init_cfg_row('timm', partial(timm_model, arch='resnext50_32x4d', suffix='.safetensors',
                                 ours=dict(type='ResNeXt', depth=50, groups=32, base_width=4)),
                 'timm-resnext50_32x4d', TIMM),
    *[init_cfg_row('mmpretrain', partial(mmpretrain_resnext, extra=extra),
                   f'mmpretrain-resnext-{name}', MMPRETRAIN)
      for name, extra in [('plain', dict()), ('deep-stem-avg-down',
                                             dict(deep_stem=True, avg_down=True))]],
    *[init_cfg_row('mmdet', partial(mmdet_detector, cfg=cfg, extra={}, x=X96),
                   f'mmdet-resnext-{i}', requires_mmdet) for i, cfg in enumerate([
        dict(type='ResNeXt', depth=101, groups=64, base_width=4, frozen_stages=1,
             norm_eval=True, style='pytorch'),
        dict(type='ResNeXt', depth=50, groups=32, base_width=4, style='caffe',
             plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 16),
                           position='after_conv3')]),
    ])],
    # --- Res2Net (mmdet's: v1b, last split unpooled at stride 1, equals our defaults)
    *[init_cfg_row('mmpretrain', partial(mmpretrain_res2net, v1b=v1b),
                   f'mmpretrain-res2net-v1b={v1b}', MMPRETRAIN) for v1b in (False, True)],
    *[init_cfg_row('timm', partial(timm_model, arch=arch, ours=dict(cfg, stride1_pool=True),
                                   suffix=suffix), f'timm-{arch}', TIMM)
      for arch, cfg, suffix in [
          ('res2net50_26w_4s', dict(type='res2net50_26w_4s'), '.pth'),
          ('res2net50_48w_2s', dict(type='Res2Net', depth=50, scales=2, base_width=48,
                                    deep_stem=False, avg_down=False), '.pth'),
          ('res2net50d', dict(type='res2net50_v1b_26w_4s'), '.safetensors'),
      ]],
    *[init_cfg_row('mmdet', partial(mmdet_detector, cfg=cfg, extra={}, x=X96),
                   f'mmdet-res2net-{i}', requires_mmdet) for i, cfg in enumerate([
        dict(type='Res2Net', depth=101, scales=4, base_width=26, frozen_stages=1,
             norm_eval=True, style='pytorch'),
        dict(type='Res2Net', depth=50, scales=8, base_width=14, plugins=GCB),
        dict(type='Res2Net', depth=50, dcn=DCN, stage_with_dcn=(False, False, True, True)),
    ])],
    # --- VGG
    init_cfg_row('mmpretrain', mmpretrain_vgg, 'mmpretrain-vgg11_bn', MMPRETRAIN),
    *[init_cfg_row('torchvision', partial(torchvision_vgg, arch=arch, with_bn=with_bn),
                   f'torchvision-{arch}', TORCHVISION)
      for arch, with_bn in [('vgg11', False), ('vgg11_bn', True)]],
    init_cfg_row('timm', timm_vgg, 'timm-vgg11_bn', TIMM),
    # --- ResNet3d
    *[init_cfg_row('mmaction2', partial(mmaction2_recognizer, cfg=cfg,
                                        x=seeded_input(1, 3, 8, 64, 64)),
                   f'mmaction2-resnet3d-{i}', MMACTION) for i, cfg in enumerate([
        dict(I3D_R50, base_channels=16, pretrained=None),
        dict(depth=50, base_channels=16, inflate_style='3x3x3', style='caffe', with_pool2=False,
             spatial_strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2),
             temporal_strides=(1, 2, 1, 1)),
        dict(I3D_R50, base_channels=16, pretrained=None,
             non_local=((0, 0, 0), (0, 1, 0, 1), (0, 1, 0, 1, 0, 1), (0, 0, 0)),
             non_local_cfg=dict(sub_sample=True, use_scale=False,
                                norm_cfg=dict(type='BN3d', requires_grad=True),
                                mode='dot_product')),
        dict(depth=18, base_channels=16, inflate=(1, (1, 0), 0, 1), conv1_kernel=(1, 7, 7)),
    ])],
    init_cfg_row('torchvision', torchvision_r3d_18, 'torchvision-r3d_18'),
]


@pytest.mark.parametrize('layout,report,make', ROWS)
def test_foreign_checkpoint_reproduces_the_foreign_model(layout, report, make, tmp_path):
    case = make(tmp_path)
    if report:
        ours = MODELS.build(copy.deepcopy(case.ours))
        loaded = load_pretrained(ours, str(case.checkpoint), min_match=1.0)
        assert loaded.layout == layout
        assert f'layout: {layout}' in loaded.format()
        assert loaded.mismatched == [] and loaded.missing == []
    else:
        ours = load_into_ours(case.checkpoint, **copy.deepcopy(case.ours))
    with torch.no_grad():
        assert_features_close(ours.eval()(case.x), case.theirs(case.x))
    if case.also is not None:
        case.also(case)


def test_every_layout_has_a_row():
    rows = {p.values[0] for p in ROWS if p.values[1]}
    assert {layout.name for layout in LAYOUTS} | {'mmbackbones'} == rows


def test_adding_a_layout_doc_is_true():
    """docs/adding_a_layout.md: its example file is the shipped one, its test code is in this
    file, and the layout is found without being named anywhere else in the package."""
    root = Path(__file__).resolve().parents[1]
    doc = (root / 'docs' / 'adding_a_layout.md').read_text()
    blocks = re.findall(r'<!-- test: (equals|in) (\S+) -->\n```python\n(.*?)```', doc, re.S)
    assert len(blocks) == 4
    for how, path, code in blocks:
        text = (root / path).read_text()
        assert text == code if how == 'equals' else code in text, f'the docs no longer show {path}'
    example = root / 'mmbackbones' / 'checkpoint' / 'layouts' / 'torchvision_detection.py'
    naming = [p for p in (root / 'mmbackbones').rglob('*.py')
              if 'torchvision_detection' in p.read_text()]
    assert naming == [example]
    assert 'torchvision_detection' in {layout.name for layout in LAYOUTS}


# ------------------------------------------------------------------------ detectron2 details
def test_caffe2_folded_bn_is_exactly_scale_and_bias(tmp_path):
    """Caffe2's folded BN: our norm computes x * s + b (running_var = 1 - eps, eps included)."""
    case = detectron2_caffe2_names(tmp_path)
    ours = ResNet(depth=50, style='caffe', norm_cfg=dict(type='BN', eps=1e-3)).eval()
    report = load_pretrained(ours, str(case.checkpoint))
    assert report.layout == 'detectron2' and report.prefix == ''
    assert report.unexpected == ['fc1000.weight']  # _momentum blobs are dropped
    blobs = pickle.load(open(case.checkpoint, 'rb'))['blobs']
    x = torch.randn(1, 64, 5, 5)
    expected = x * torch.from_numpy(blobs['res_conv1_bn_s']).view(1, -1, 1, 1) + \
        torch.from_numpy(blobs['res_conv1_bn_b']).view(1, -1, 1, 1)
    torch.testing.assert_close(ours.bn1(x), expected, rtol=1e-6, atol=1e-6)
    with torch.no_grad():  # and with our eps=1e-3 the features are still detectron2's
        assert_features_close(ours(X), case.theirs(X))


def test_detectron2_msra_needs_style_caffe(tmp_path):
    """The MSRA ResNet-50 strides in the 1x1 conv: with style='pytorch' (stride in the 3x3) all
    weights load, but the features differ; the docs tell users to set style='caffe'."""
    case = detectron2_caffe2_names(tmp_path)
    ours = ResNet(depth=50, style='pytorch')
    load_pretrained(ours, str(case.checkpoint), min_match=1.0)
    with torch.no_grad():
        assert not torch.allclose(ours.eval()(X)[1], case.theirs(X)[1], atol=1e-3)


def assert_inflated_matches(model3d: ResNet3d, expected: list, frame: torch.Tensor,
                            frames: int = 8) -> None:
    """On a static clip of ``frame``, every time step of every output is the 2D feature."""
    clip = frame.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()
    with torch.no_grad():
        out3d = model3d.eval()(clip)
    for out, feature in zip(out3d, expected):
        for t in range(out.shape[2]):
            assert_features_close([out[:, :, t]], [feature])


def test_detectron2_checkpoint_inflates_into_resnet3d(tmp_path):
    """Inflation reads layouts through the same core: a Caffe2 .pkl initialises an I3D."""
    case = detectron2_caffe2_names(tmp_path)
    model3d = ResNet3d(depth=50, style='caffe')
    report = inflate_pretrained(model3d, str(case.checkpoint), method='center')
    assert report.layout == 'detectron2' and report.untouched == []
    assert 'layout: detectron2' in report.format()
    with torch.no_grad():
        expected = case.theirs(X)
    assert_inflated_matches(model3d, expected, X)


FRAME = seeded_input(2, 3, 64, 64, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize('make,cfg3d,expect', [
    pytest.param(torchvision_resnet, dict(depth=18, **dict(I3D, inflate=(1, (0, 1), 1, (1, 0)))),
                 dict(unused=['fc.weight', 'fc.bias'], untouched=[]), id='torchvision'),
    pytest.param(partial(mmpretrain_classifier, in_channels=512, atomic=True, backbone=dict(
        type='ResNet', depth=50, base_channels=16, stem_channels=16, out_indices=(0, 1, 2, 3))),
                 dict(depth=50, base_channels=16, **I3D),
                 dict(prefix='backbone.', untouched=[]), id='mmpretrain', marks=MMPRETRAIN),
])
def test_2d_checkpoint_inflates_center(make, cfg3d, expect, tmp_path):
    """A foreign 2D checkpoint inflated with 'center': the I3D gives its features at every
    time step of a static clip."""
    case = make(tmp_path)
    model3d = ResNet3d(**cfg3d)
    report = inflate_pretrained(model3d, str(case.checkpoint), method='center')
    assert {name: getattr(report, name) for name in expect} == expect
    with torch.no_grad():
        expected = case.theirs(FRAME)
    assert_inflated_matches(model3d, expected, FRAME)


# ------------------------------------------------------------------------ GoogLeNet
@pytest.mark.slow
@TORCHVISION
def test_torchvision_googlenet_with_aux_heads(tmp_path):
    """All keys load (aux heads included); eval features and logits match; in training, the
    auxiliary logits match too; transform_input=True equals our inputs scaled to [-1, 1]."""
    import torchvision
    theirs = torchvision.models.GoogLeNet(num_classes=10, aux_logits=True, init_weights=False)
    randomize(theirs).eval()
    path = tmp_path / 'googlenet.pth'
    torch.save(theirs.state_dict(), path)
    ours = load_into_ours(path, type='googlenet_tv', num_classes=10, aux_logits=True)
    assert set(ours.state_dict()) == set(theirs.state_dict())

    taps = []
    for name in ('inception3b', 'inception4e', 'inception5b'):
        getattr(theirs, name).register_forward_hook(lambda m, i, o: taps.append(o))
    raw = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(3)) * 255
    with torch.no_grad():
        logits = theirs(raw / 127.5 - 1)
        assert_features_close(ours(raw / 127.5 - 1), taps + [logits])
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        theirs.transform_input = True
        assert_features_close([theirs((raw / 255 - mean) / std)], [logits])

    for model in (theirs, ours):  # batch statistics, no dropout: comparable in training mode
        model.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
    theirs.transform_input = False
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(4)) * 2 - 1
    with torch.no_grad():
        expected = theirs(x)
        got = ours(x)
    assert_features_close([got[-1], *got.aux_logits],
                          [expected.logits, expected.aux_logits1, expected.aux_logits2])
