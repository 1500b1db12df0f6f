"""What every mmbackbones backbone shares, written once.

* The output contract: ``stage_channels``/``stage_strides`` for every stage, fixed at build time,
  and ``out_channels``/``out_strides``/``output_shape()`` for the stages in ``out_indices``, in
  that order, which is also the order of the tuple ``forward`` returns. Necks read these.
* ``frozen_stages`` (-1: nothing; 0: the stem; k: the stem and the first k stages) and
  ``norm_eval``, re-applied on every ``train()``.
* ``init_cfg=dict(type='Pretrained', checkpoint=...)`` goes through mmbackbones' safe loader, which
  remaps mmdet/mmpretrain/torchvision/timm layouts and prints a load report.
* Recorded attributes: what mmdet's, mmpretrain's and mmaction2's classes let users read
  (``stem_channels``, ``norm_cfg``, ``res_layers``, ...) exists on ours with the same value,
  read-only. A class names them in ``recorded_attributes``; its constructor writes them once, at
  its end, with :meth:`BaseBackbone._record`; nothing reads them back while the network is built.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..base_module import PretrainedInitModule
from ..layers import check_int, normalize_out_indices


class FeatureSpec(NamedTuple):
    """Channels and stride (relative to the input) of one output feature map."""
    channels: int
    stride: int


def _immutable(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, type))


def _recorded_property(name: str) -> property:
    """A read-only attribute served from what :meth:`BaseBackbone._record` wrote; dicts and lists
    come back as copies, so the record cannot be changed through them either."""

    def get(self) -> Any:
        recorded = self._recorded
        if name not in recorded:
            raise AttributeError(f'{type(self).__name__}.{name} is not recorded yet: the '
                                 'constructor records it at its end.')
        value, copy_on_read = recorded[name]
        return copy.deepcopy(value) if copy_on_read else value

    def refuse(self, *value: Any) -> None:
        raise AttributeError(f'{type(self).__name__}.{name} is read-only: it records how the '
                             f'model was built ({name}={get(self)!r}); build another model to '
                             'change it.')

    return property(get, refuse, refuse, f'``{name}`` as the constructor recorded it '
                    '(read-only).')


class BaseBackbone(PretrainedInitModule):
    """Base class of all mmbackbones backbones.

    Subclasses build their layers, then call :meth:`_set_stages` with the stem modules and the
    stages by name, with their channels and strides; it validates ``out_indices`` and
    ``frozen_stages`` against them and freezes. Their constructor ends with one
    :meth:`_record` of the attributes the class names in ``recorded_attributes``.
    """

    #: depth -> the family's settings for that depth (blocks, convs per stage, ...).
    arch_settings: ClassVar[dict[int, Any]] = {}
    #: Layout name -> ``convert(state_dict, model) -> dict``: how this family's weights are
    #: named in that library's checkpoints (:class:`mmbackbones.checkpoint.Layout`); layouts
    #: without an entry use their own key map.
    foreign_key_maps: ClassVar[dict[str, Callable[[dict, nn.Module], dict]]] = {}
    #: An input shape the backbone accepts (N, C, H, W) or (N, C, T, H, W).
    example_input_shape: ClassVar[tuple[int, ...]] = (2, 3, 64, 64)
    #: The read-only attributes this class adds (its bases' come with them); each becomes a
    #: property that serves what the constructor wrote with :meth:`_record`.
    recorded_attributes: ClassVar[tuple[str, ...]] = ('stage_channels', 'stage_strides',
                                                      'out_indices', 'frozen_stages', 'norm_eval')

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.__dict__.get('recorded_attributes', ()):
            setattr(cls, name, _recorded_property(name))

    def __init__(self, init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg)
        self._recorded: dict[str, tuple[Any, bool]] = {}

    @classmethod
    def recorded_names(cls) -> tuple[str, ...]:
        """Every recorded attribute of this class, its bases' first."""
        names = (n for klass in reversed(cls.__mro__)
                 for n in klass.__dict__.get('recorded_attributes', ()))
        return tuple(dict.fromkeys(names))

    def _record(self, **values: Any) -> None:
        """Write recorded attributes (once each), from the constructor's arguments and what it
        built; the caller's dicts and lists are copied, so changing them later changes nothing."""
        unknown = set(values) - set(self.recorded_names())
        again = set(values) & set(self._recorded)
        assert not unknown and not again, (f'{type(self).__name__}: not in recorded_attributes: '
                                           f'{sorted(unknown)}; recorded twice: {sorted(again)}')
        for name, value in values.items():
            self._recorded[name] = (copy.deepcopy(value), not _immutable(value))

    @classmethod
    def arch(cls, depth: int) -> Any:
        """The ``arch_settings`` entry of ``depth``: ``TypeError`` for a non-int, ``KeyError``
        naming the allowed depths for an unknown one."""
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f'depth must be an int, got {depth!r}; allowed: '
                            f'{sorted(cls.arch_settings)}.')
        if depth not in cls.arch_settings:
            raise KeyError(f'depth={depth!r} is not supported by {cls.__name__}; '
                           f'allowed: {sorted(cls.arch_settings)}.')
        return cls.arch_settings[depth]

    # ---------------------------------------------------------------- output contract
    def _set_stages(self, stem: Sequence[nn.Module], stages: Mapping[str, nn.Module],
                    stage_channels: Sequence[int], stage_strides: Sequence[int], out_indices,
                    frozen_stages: int, norm_eval: bool) -> None:
        """Record the stages and validate ``out_indices``/``frozen_stages`` against them.

        Args:
            stem: The modules ``frozen_stages=0`` freezes.
            stages: Stage name -> module, in forward order: a child (``layer1``), or a
                ``ModuleList`` view of modules kept at their checkpoint names (VGG's slices of
                ``features``), which adds no state-dict keys.
            stage_channels: Output channels of each stage.
            stage_strides: Output stride of each stage relative to the input.
            out_indices: Stages ``forward`` returns (``None``: every stage).
            frozen_stages: -1 freezes nothing, 0 the stem, k the stem and the first k stages.
            norm_eval: Keep BN layers in eval mode while training.
        """
        num_stages = len(stages)
        if out_indices is None:  # every stage
            out_indices = tuple(range(num_stages))
        self._stem_modules = list(stem)
        self._stages = dict(stages)  # a plain dict: the modules are registered where they live
        self._record(stage_channels=tuple(int(c) for c in stage_channels),
                     stage_strides=tuple(int(s) for s in stage_strides),
                     out_indices=normalize_out_indices(out_indices, num_stages),
                     frozen_stages=check_int('frozen_stages', frozen_stages, -1, num_stages),
                     norm_eval=bool(norm_eval))
        self._freeze_stages()

    @property
    def num_stages(self) -> int:
        return len(self._stages)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The name of every stage, in forward order (``layer1``... for the ResNets)."""
        return tuple(self._stages)

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of each output, in ``out_indices`` order."""
        return tuple(self.stage_channels[i] for i in self.out_indices)

    @property
    def out_strides(self) -> tuple[int, ...]:
        """Stride of each output relative to the input, in ``out_indices`` order."""
        return tuple(self.stage_strides[i] for i in self.out_indices)

    def output_shape(self) -> list[FeatureSpec]:
        """Channels and stride of each output, in the order ``forward`` returns them."""
        return [FeatureSpec(c, s) for c, s in zip(self.out_channels, self.out_strides)]

    def stages(self) -> list[nn.Module]:
        return list(self._stages.values())

    # ---------------------------------------------------------------- freezing
    def frozen_modules(self) -> list[nn.Module]:
        """The modules ``frozen_stages`` freezes: stem for 0, plus the first k stages for k."""
        if self.frozen_stages < 0:
            return []
        return list(self._stem_modules) + self.stages()[:self.frozen_stages]

    def _freeze_stages(self) -> None:
        for module in self.frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> BaseBackbone:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


for _name in BaseBackbone.recorded_attributes:  # __init_subclass__ installs the subclasses'
    setattr(BaseBackbone, _name, _recorded_property(_name))


def default_init_cfg(conv_layer: str = 'Conv2d', linear_std: float | None = None,
                     **kaiming) -> list[dict]:
    """The default ``init_cfg`` of our backbones: Kaiming for ``conv_layer`` (``kaiming``
    arguments), 1 for norm weights and, with ``linear_std``, a normal init of ``Linear`` layers."""
    cfg = [dict(type='Kaiming', layer=conv_layer, **kaiming),
           dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
    if linear_std is not None:
        cfg.append(dict(type='Normal', std=linear_std, layer='Linear'))
    return cfg


def outputs_with_classifier(out_indices, num_stages: int, num_classes: int) -> tuple[int, ...]:
    """``out_indices`` over ``num_stages`` stages plus, with ``num_classes > 0``, the classifier
    (index ``num_stages``); ``None`` means every output. Asking for the classifier without one is a
    ``ValueError`` that says so."""
    with_classifier = num_classes > 0
    if out_indices is None:
        out_indices = tuple(range(num_stages + int(with_classifier)))
    elif not with_classifier and num_stages in (
            (out_indices, ) if isinstance(out_indices, int) else tuple(out_indices)):
        raise ValueError(f'out_indices={out_indices!r} asks for index {num_stages}, the '
                         f'classifier output, but num_classes={num_classes} builds no '
                         f'classifier; allowed: {-num_stages}..{num_stages - 1}, or set '
                         'num_classes > 0.')
    return normalize_out_indices(out_indices, num_stages + int(with_classifier))


def check_norm_eval(norm_eval: bool, norm_cfg: dict | None) -> None:
    """``norm_eval`` acts on norm layers only; asking for it without any is a config error."""
    if norm_eval and norm_cfg is None:
        raise ValueError('norm_eval=True keeps norm layers in eval mode, but norm_cfg=None builds '
                         'none; set norm_cfg=dict(type="BN") or norm_eval=False.')
