"""Checkpoint layouts, one table row each: build the other library's model, save its checkpoint
the way that library does, load it into ours, check the layout the report names and compare
every stage output. A layout without a row fails ``test_every_layout_has_a_row``."""
from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmbackbones.checkpoint import LAYOUTS, inflate_pretrained, load_pretrained
from mmbackbones.models import ResNet, ResNet3d
from mmbackbones.registry import MODELS

from conftest import assert_features_close, has_module, randomize, requires_mmdet, seeded_input

X = seeded_input(2, 3, 64, 64)


@dataclass
class Case:
    """A foreign checkpoint file, the config of ours that should load it, and the foreign
    model's stage outputs for an input."""
    checkpoint: Path
    ours: dict
    theirs: Callable[[torch.Tensor], list]
    x: torch.Tensor = X


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


def torchvision_resnet(tmp_path) -> Case:
    import torchvision
    theirs = randomize(torchvision.models.resnet18(weights=None)).eval()
    path = tmp_path / 'resnet18.pth'
    torch.save(theirs.state_dict(), path)
    stem = nn.Sequential(theirs.conv1, theirs.bn1, theirs.relu, theirs.maxpool)
    return Case(path, dict(type='ResNet', depth=18), stages(theirs, stem))


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


def timm_resnet_d(tmp_path) -> Case:
    import timm
    theirs = randomize(timm.create_model('resnet18d', pretrained=False)).eval()
    path = tmp_path / 'resnet18d.pth'
    torch.save(theirs.state_dict(), path)
    return Case(path, dict(type='ResNetV1d', depth=18), lambda x: theirs.forward_intermediates(
        x, indices=[1, 2, 3, 4], intermediates_only=True))


def mmpretrain_classifier(tmp_path) -> Case:
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    backbone = dict(type='ResNetV1d', depth=18, out_indices=(0, 1, 2, 3))
    theirs = PRETRAIN_MODELS.build(dict(
        type='ImageClassifier', backbone=backbone, neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512)))
    randomize(theirs).eval()
    path = tmp_path / 'epoch_1.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': theirs.state_dict()}, path)
    return Case(path, backbone, lambda x: list(theirs.backbone(x)))


def mmdet_detector(tmp_path) -> Case:
    from mmdet.registry import MODELS as DET_MODELS
    cfg = dict(type='ResNet', depth=18, norm_eval=True)
    theirs = DET_MODELS.build(dict(cfg))
    randomize(theirs).eval()
    state = {f'backbone.{k}': v for k, v in theirs.state_dict().items()}
    state['rpn_head.rpn_conv.weight'] = torch.zeros(256, 256, 3, 3)
    path = tmp_path / 'faster_rcnn.pth'
    torch.save({'meta': {'mmdet_version': '3.3.0'}, 'state_dict': state}, path)
    return Case(path, cfg, lambda x: list(theirs(x)))


def mmaction2_recognizer(tmp_path) -> Case:
    from test_resnet3d import _mmaction_resnet3d_module
    cfg = dict(depth=18, base_channels=16, inflate=(1, (1, 0), 0, 1), conv1_kernel=(3, 7, 7))
    theirs = randomize(_mmaction_resnet3d_module().ResNet3d(**cfg, out_indices=(0, 1, 2, 3)))
    theirs.eval()
    state = {f'backbone.{k}': v for k, v in theirs.state_dict().items()}
    state['cls_head.fc_cls.weight'] = torch.zeros(400, theirs.feat_dim)
    path = tmp_path / 'i3d.pth'
    torch.save({'meta': {'mmaction_version': '1.2.0'}, 'state_dict': state}, path)
    clip = torch.randn(1, 3, 8, 48, 48, generator=torch.Generator().manual_seed(2))
    return Case(path, dict(cfg, type='ResNet3d'), lambda x: list(theirs(x)), clip)


def needs(module: str, install: str):
    return pytest.mark.skipif(not has_module(module),
                              reason=f'{module} is not installed ({install})')


#: One row per layout: (layout name the report must give, builder of the foreign checkpoint).
ROWS = [
    pytest.param('mmbackbones', mmbackbones_own, id='mmbackbones'),
    pytest.param('torchvision', torchvision_resnet, id='torchvision',
                 marks=needs('torchvision', 'pip install torchvision')),
    pytest.param('torchvision_detection', torchvision_faster_rcnn, id='torchvision_detection',
                 marks=needs('torchvision', 'pip install torchvision')),
    pytest.param('timm', timm_resnet_d, id='timm', marks=needs('timm', 'pip install timm')),
    pytest.param('mmpretrain', mmpretrain_classifier, id='mmpretrain',
                 marks=needs('mmpretrain', 'pip install mmpretrain==1.2.0')),
    pytest.param('mmdet', mmdet_detector, id='mmdet', marks=requires_mmdet),
    pytest.param('mmaction2', mmaction2_recognizer, id='mmaction2',
                 marks=needs('mmaction', 'pip install --no-deps mmaction2==1.2.0')),
    pytest.param('detectron2', detectron2_caffe2_names, id='detectron2-caffe2-names'),
    pytest.param('detectron2', detectron2_names, id='detectron2'),
]


@pytest.mark.parametrize('layout,make', ROWS)
def test_layout_loads_and_reproduces_the_foreign_model(layout, make, tmp_path):
    case = make(tmp_path)
    ours = MODELS.build(case.ours)
    report = load_pretrained(ours, str(case.checkpoint), min_match=1.0)
    assert report.layout == layout
    assert f'layout: {layout}' in report.format()
    assert report.mismatched == [] and report.missing == []
    with torch.no_grad():
        assert_features_close(ours.eval()(case.x), case.theirs(case.x))


def test_every_layout_has_a_row():
    rows = {p.values[0] for p in ROWS}
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


def test_detectron2_checkpoint_inflates_into_resnet3d(tmp_path):
    """Inflation reads layouts through the same core: a Caffe2 .pkl initialises an I3D."""
    case = detectron2_caffe2_names(tmp_path)
    model3d = ResNet3d(depth=50, style='caffe')
    report = inflate_pretrained(model3d, str(case.checkpoint), method='center')
    assert report.layout == 'detectron2' and report.untouched == []
    assert 'layout: detectron2' in report.format()
    clip = X.unsqueeze(2).expand(-1, -1, 8, -1, -1).contiguous()
    with torch.no_grad():
        out3d = model3d.eval()(clip)
        for out, expected in zip(out3d, case.theirs(X)):
            for t in range(out.shape[2]):
                assert_features_close([out[:, :, t]], [expected])
