"""GoogLeNet / Inception v1 (`Going Deeper with Convolutions <https://arxiv.org/abs/1409.4842>`_).

Two variants of one class:

* ``googlenet``: the paper's network. Convs with biases and ReLU, no BN, LRN after the first max
  pool and after ``conv3``, 5x5 convs in the third inception branch, 3x3/2 max pools, auxiliary
  heads with a 5x5/3 average pool, dropout 0.4 before the classifier.
* ``googlenet_tv``: torchvision's ``googlenet`` (a port of the TF weights): BN (eps 1e-3) after
  every conv and no conv biases, no LRN, a 3x3 conv where the paper has 5x5 (a known bug,
  https://github.com/pytorch/vision/issues/906), a 2x2 last max pool, auxiliary heads with an
  adaptive 4x4 average pool, dropout 0.2. Module names are torchvision's, so its checkpoints
  load as they are.

torchvision's ``transform_input=True`` (set when its weights are requested) maps
ImageNet-normalised inputs to ``(x - 127.5) / 127.5``, the normalisation the TF weights were
trained with. We keep preprocessing out of the backbone: with torchvision's weights normalise
with ``mean=std=127.5`` (``configs/_base_/models/googlenet_tv.py`` does); the outputs are then
exactly torchvision's.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_activation_layer

from ...registry import MODELS
from ..layers import check_choice, check_int, check_layer_cfg
from ..variants import Not, register_variant
from .base import (
    BaseBackbone,
    check_norm_eval,
    default_init_cfg,
    outputs_with_classifier,
)

# (in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj): the paper's Table 1
INCEPTION_SETTINGS: dict[str, tuple[int, ...]] = {
    '3a': (192, 64, 96, 128, 16, 32, 32),
    '3b': (256, 128, 128, 192, 32, 96, 64),
    '4a': (480, 192, 96, 208, 16, 48, 64),
    '4b': (512, 160, 112, 224, 24, 64, 64),
    '4c': (512, 128, 128, 256, 24, 64, 64),
    '4d': (512, 112, 144, 288, 32, 64, 64),
    '4e': (528, 256, 160, 320, 32, 128, 128),
    '5a': (832, 256, 160, 320, 32, 128, 128),
    '5b': (832, 384, 192, 384, 48, 128, 128),
}


class FeaturesWithAux(tuple):
    """The tuple of outputs ``forward`` returns, also carrying the auxiliary logits in training.

    Heads that ignore ``aux_logits`` (mmpretrain's ``ClsHead``) see a plain tuple whose last entry
    is the main classifier; :class:`mmbackbones.models.heads.AuxClsHead` adds the auxiliary
    losses.
    """

    aux_logits: tuple[torch.Tensor, ...]

    def __new__(cls, feats, aux_logits: Sequence[torch.Tensor]) -> FeaturesWithAux:
        obj = super().__new__(cls, feats)
        obj.aux_logits = tuple(aux_logits)
        return obj


class Inception(nn.Module):
    """Four branches concatenated on channels: 1x1; 1x1 -> 3x3; 1x1 -> kxk (k=5 in the paper);
    3x3/1 max pool -> 1x1."""

    def __init__(self,
                 in_channels: int,
                 ch1x1: int,
                 ch3x3red: int,
                 ch3x3: int,
                 ch5x5red: int,
                 ch5x5: int,
                 pool_proj: int,
                 branch3_kernel_size: int = 5,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'),
                 with_cp: bool = False) -> None:
        super().__init__()
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        k = branch3_kernel_size
        self.branch1 = ConvModule(in_channels, ch1x1, 1, **cfg)
        self.branch2 = nn.Sequential(ConvModule(in_channels, ch3x3red, 1, **cfg),
                                     ConvModule(ch3x3red, ch3x3, 3, padding=1, **cfg))
        self.branch3 = nn.Sequential(ConvModule(in_channels, ch5x5red, 1, **cfg),
                                     ConvModule(ch5x5red, ch5x5, k, padding=k // 2, **cfg))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     ConvModule(in_channels, pool_proj, 1, **cfg))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def inner(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], 1)

        if self.with_cp and torch.is_grad_enabled():
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)


class InceptionAux(nn.Module):
    """Auxiliary classifier: avg pool to 4x4, 1x1 conv 128, FC 1024, dropout, FC to classes."""

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 pooling: str = 'paper',
                 dropout: float = 0.7,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU')) -> None:
        super().__init__()
        # the paper: 5x5/3 average pool (4x4 from the 14x14 map of a 224 input); torchvision:
        # adaptive 4x4 pool (other windows at 224, and any input size works)
        self.pool = nn.AvgPool2d(5, stride=3) if pooling == 'paper' else nn.AdaptiveAvgPool2d(4)
        self.conv = ConvModule(in_channels, 128, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.act = build_activation_layer(act_cfg) if act_cfg else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)  # N x C x 4 x 4
        if x.shape[-2:] != (4, 4):
            raise ValueError(f'The auxiliary head pooled a {tuple(x.shape[-2:])} map, not 4x4: '
                             "pooling='paper' needs 14x14 maps after inception 4a/4d (224x224 "
                             "inputs); use pooling='torchvision' for other input sizes.")
        x = self.conv(x)  # N x 128 x 4 x 4
        x = self.dropout(self.act(self.fc1(torch.flatten(x, 1))))  # N x 1024
        return self.fc2(x)  # N x num_classes


@MODELS.register_module()
class GoogLeNet(BaseBackbone):
    """GoogLeNet (Inception v1) backbone with optional classifier and auxiliary heads.

    Stem: 7x7/2 conv, 3x3/2 max pool, [LRN], 1x1 conv, 3x3 conv, [LRN], 3x3/2 max pool (192
    channels, stride 8). Stages: 0 = inception 3a-3b (480 channels, stride 8); 1 = max pool,
    4a-4e (832, stride 16); 2 = max pool, 5a-5b (1024, stride 32). With ``num_classes > 0`` the
    classifier (global average pool, dropout, FC) is output index 3, an ``(N, num_classes)``
    tensor published with ``channels=num_classes`` and stride 32. With ``aux_logits=True`` the two
    auxiliary heads (after 4a and 4d) run in training only and their logits ride on the returned
    tuple as ``aux_logits`` (see :class:`FeaturesWithAux`); ``frozen_stages`` covering the
    classifier freezes them too.

    Args:
        num_classes: Classes of the classifier; ``<= 0`` builds none.
        aux_logits: Build the two auxiliary classifiers (needs ``num_classes > 0``).
        in_channels: Input image channels.
        out_indices: Outputs ``forward`` returns, in this order (0-2 the stages, 3 the
            classifier); negative indices count from the last. Default: every output.
        branch3_kernel_size: Kernel of the third inception branch: 5 (paper) or 3 (torchvision).
        pooling: ``'paper'`` (3x3/2 last max pool, 5x5/3 auxiliary average pool) or
            ``'torchvision'`` (2x2/2 last max pool, adaptive 4x4 auxiliary pool).
        with_lrn: Local response normalisation in the stem (paper; torchvision has none).
        dropout: Dropout before the classifier (paper 0.4, torchvision 0.2).
        aux_dropout: Dropout in the auxiliary heads (0.7 in both).
        frozen_stages: -1 freezes nothing, 0 the stem, ``k`` the stem and the first ``k``
            stages; 4 also freezes the classifier and the auxiliary heads.
        conv_cfg: Conv layer config (mmcv ``build_conv_layer``); ``None`` is ``Conv2d``.
        norm_cfg: Norm after every conv (torchvision: ``dict(type='BN', eps=1e-3)``); ``None``
            (the paper) builds none and gives the convs biases.
        act_cfg: Activation after every conv.
        norm_eval: Keep BN layers in eval mode while training; needs ``norm_cfg``.
        with_cp: Gradient checkpointing in every inception module.
        init_cfg: mmengine init config; ``dict(type='Pretrained', checkpoint=...)`` loads
            torchvision checkpoints with a report.

    Example:
        >>> import torch
        >>> from mmbackbones.models import GoogLeNet
        >>> model = GoogLeNet().eval()
        >>> for out in model(torch.rand(1, 3, 224, 224)):
        ...     print(tuple(out.shape))
        (1, 480, 28, 28)
        (1, 832, 14, 14)
        (1, 1024, 7, 7)
        >>> model.out_channels, model.out_strides
        ((480, 832, 1024), (8, 16, 32))
    """

    example_input_shape = (2, 3, 64, 64)
    recorded_attributes = ('num_classes', 'aux_logits')

    def __init__(self,
                 *,
                 num_classes: int = -1,
                 aux_logits: bool = False,
                 in_channels: int = 3,
                 out_indices: int | Sequence[int] | None = None,
                 branch3_kernel_size: int = 5,
                 pooling: str = 'paper',
                 with_lrn: bool = True,
                 dropout: float = 0.4,
                 aux_dropout: float = 0.7,
                 frozen_stages: int = -1,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: dict | list | None = None) -> None:
        # fan_in: with fan_out the narrow 1x1 reduce convs multiply the activations of the
        # BN-free paper network and its first training steps diverge
        super().__init__(default_init_cfg(linear_std=0.01, mode='fan_in') if init_cfg is None
                         else init_cfg)
        check_int('num_classes', num_classes)
        check_int('in_channels', in_channels, 1)
        check_choice('branch3_kernel_size', branch3_kernel_size, (5, 3))
        check_choice('pooling', pooling, ('paper', 'torchvision'))
        check_layer_cfg('conv_cfg', conv_cfg, 'conv')
        check_layer_cfg('norm_cfg', norm_cfg, 'norm')
        check_layer_cfg('act_cfg', act_cfg, 'activation')
        check_norm_eval(norm_eval, norm_cfg)
        for arg, p in (('dropout', dropout), ('aux_dropout', aux_dropout)):
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f'{arg}={p!r} must be in [0, 1).')
        with_classifier = num_classes > 0
        if aux_logits and not with_classifier:
            raise ValueError(f'aux_logits=True builds auxiliary classifiers, which need the main '
                             f'classifier: set num_classes > 0 (got num_classes={num_classes}) '
                             'or aux_logits=False.')
        out_indices = outputs_with_classifier(out_indices, 3, num_classes)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        stem = self._make_stem(in_channels, with_lrn, cfg)

        def inception(name: str) -> Inception:
            module = Inception(*INCEPTION_SETTINGS[name], branch3_kernel_size=branch3_kernel_size,
                               with_cp=with_cp, **cfg)
            self.add_module(f'inception{name}', module)
            return module

        group3 = [inception('3a'), inception('3b')]
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        group4 = [self.maxpool3] + [inception(n) for n in ('4a', '4b', '4c', '4d', '4e')]
        # torchvision's port uses 2x2/2 here; the paper (and bvlc_googlenet) 3x3/2
        self.maxpool4 = (nn.MaxPool2d(3, stride=2, ceil_mode=True) if pooling == 'paper' else
                         nn.MaxPool2d(2, stride=2, ceil_mode=True))
        group5 = [self.maxpool4, inception('5a'), inception('5b')]
        # each stage is a view of its modules, kept at torchvision's names
        stages = {'inception3': nn.ModuleList(group3), 'inception4': nn.ModuleList(group4),
                  'inception5': nn.ModuleList(group5)}
        channels = [group3[-1].out_channels, group4[-1].out_channels, group5[-1].out_channels]
        strides = [8, 16, 32]
        if with_classifier:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # the paper's 7x7 average pool at 224
            self.dropout = nn.Dropout(dropout)
            self.fc = nn.Linear(channels[-1], num_classes)
            classifier = [self.fc]
            if aux_logits:
                aux = dict(num_classes=num_classes, pooling=pooling, dropout=aux_dropout, **cfg)
                self.aux1 = InceptionAux(self.inception4a.out_channels, **aux)
                self.aux2 = InceptionAux(self.inception4d.out_channels, **aux)
                classifier += [self.aux1, self.aux2]
            stages['classifier'] = nn.ModuleList(classifier)
            channels.append(num_classes)
            strides.append(32)
        self._set_stages(stem, stages, channels, strides, out_indices, frozen_stages, norm_eval)
        self._record(num_classes=num_classes, aux_logits=aux_logits)

    def _make_stem(self, in_channels: int, with_lrn: bool, cfg: dict) -> list[nn.Module]:
        """7x7/2 conv, 3x3/2 max pool, [LRN], 1x1 conv, 3x3 conv, [LRN], 3x3/2 max pool."""
        self.conv1 = ConvModule(in_channels, 64, 7, stride=2, padding=3, **cfg)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        # Caffe's LRN(local_size=5, alpha=1e-4, beta=0.75), as in the reference bvlc_googlenet
        self.lrn1 = nn.LocalResponseNorm(5, 1e-4, 0.75) if with_lrn else nn.Identity()
        self.conv2 = ConvModule(64, 64, 1, **cfg)
        self.conv3 = ConvModule(64, 192, 3, padding=1, **cfg)
        self.lrn2 = nn.LocalResponseNorm(5, 1e-4, 0.75) if with_lrn else nn.Identity()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        return [self.conv1, self.maxpool1, self.lrn1, self.conv2, self.conv3, self.lrn2,
                self.maxpool2]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lrn1(self.maxpool1(self.conv1(x)))  # N x 64 x H/4 x W/4
        x = self.lrn2(self.conv3(self.conv2(x)))  # N x 192 x H/4 x W/4
        return self.maxpool2(x)  # N x 192 x H/8 x W/8

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        run_aux = self.aux_logits and self.training
        last = max(self.out_indices)
        if run_aux:
            last = max(last, 1)  # the auxiliary heads read inside stage 1
        x = self.forward_stem(x)
        feats, aux = [], []
        for i, stage in enumerate(self.stages()[:last + 1]):
            if i == 3:  # the classifier
                x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))  # N x num_classes
            else:
                for module in stage:
                    x = module(x)
                    if run_aux and module is self.inception4a:  # N x 512 x H/16 x W/16
                        aux.append(self.aux1(x))
                    elif run_aux and module is self.inception4d:  # N x 528 x H/16 x W/16
                        aux.append(self.aux2(x))
            feats.append(x)
        outs = tuple(feats[i] for i in self.out_indices)
        return FeaturesWithAux(outs, aux) if run_aux else outs


# Named variants: the paper's network and torchvision's port.
register_variant('googlenet', GoogLeNet,
                 fixed=dict(branch3_kernel_size=5, pooling='paper', with_lrn=True, norm_cfg=None),
                 defaults=dict(dropout=0.4),
                 doc='GoogLeNet as in the paper (no BN, LRN, 5x5 branch, 3x3/2 and 5x5/3 pools).')
register_variant('googlenet_tv', GoogLeNet,
                 fixed=dict(branch3_kernel_size=3, pooling='torchvision', with_lrn=False,
                            norm_cfg=Not(None)),
                 defaults=dict(dropout=0.2, norm_cfg=dict(type='BN', eps=1e-3)),
                 doc='GoogLeNet as torchvision builds it (BN eps 1e-3, no LRN, 3x3 branch, its '
                 'pooling).')
