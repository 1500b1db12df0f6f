"""Named variants: a registered name that builds a family class with some arguments fixed.

``register_variant('resnet50_v1d', ResNet, fixed=dict(depth=50, deep_stem=True, avg_down=True))``
registers ``resnet50_v1d``. Arguments a variant *fixes* define it: a caller who contradicts one gets
a ``ValueError`` naming the argument (torchvision's ``_ovewrite_named_param``), never a silent
override. Arguments it merely *defaults* (GoogLeNet's dropout) the caller may change. Everything
else passes through to the class.

A registered *class* that other libraries' configs name (``ResNetV1c``, ``ResNetV1d``) fixes its
arguments the same way: a class attribute ``fixed``, applied by :func:`apply_fixed` in its
constructor. :func:`fixed_arguments` reads them from either.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..registry import MODELS


class Not:
    """A fixed argument that may take any value but one: ``fixed=dict(norm_cfg=Not(None))`` says
    "some norm layer" (``vgg11_bn``, ``googlenet_tv``)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f'Not({self.value!r})'


def _allows(fixed: Any, value: Any) -> bool:
    if isinstance(fixed, Not):
        return value != fixed.value
    # 1 == True, but deep_stem=1 is a config mistake, not a repetition of deep_stem=True
    return value == fixed and isinstance(value, bool) == isinstance(fixed, bool)


def apply_fixed(name: str, kwargs: dict, fixed: Mapping[str, Any], family: str) -> dict:
    """``kwargs`` with ``fixed`` filled in; a value that contradicts one is a ``ValueError``.

    Args:
        name: The variant, for the message.
        kwargs: What the caller passed.
        fixed: The variant's fixed arguments (a :class:`Not` allows all but one value).
        family: The class to name for other combinations.
    """
    out = dict(kwargs)
    for key, value in fixed.items():
        if key in kwargs and not _allows(value, kwargs[key]):
            rule = f'never uses {key}={value.value!r}' if isinstance(value, Not) else \
                f'always uses {key}={value!r}'
            raise ValueError(f'{name} {rule}; got {key}={kwargs[key]!r}. Use '
                             f'{family}({key}=...) for other combinations.')
        if not isinstance(value, Not):
            out[key] = value
    return out


def fixed_arguments(obj: Any) -> dict[str, Any]:
    """The arguments a registered class or named variant fixes: the ``fixed`` of its class and
    that class's bases, then the variant's own.

    Example:
        >>> fixed_arguments(MODELS.get('ResNetV1d'))
        {'deep_stem': True, 'avg_down': True}
    """
    cls = getattr(obj, 'variant_of', obj)
    fixed: dict[str, Any] = {}
    for klass in reversed(cls.__mro__ if isinstance(cls, type) else ()):
        fixed.update(klass.__dict__.get('fixed', {}))
    if obj is not cls:
        fixed.update(obj.fixed)
    return fixed


def register_variant(name: str,
                     cls: type,
                     fixed: Mapping[str, Any] | None = None,
                     defaults: Mapping[str, Any] | None = None,
                     doc: str | None = None) -> Callable[..., Any]:
    """Register ``name`` in ``MODELS`` as ``cls`` with ``fixed`` arguments and ``defaults``.

    Args:
        name: The registered name (``resnet50``, ``vgg16_bn``).
        cls: The family class it builds.
        fixed: Arguments that define the variant; a caller may repeat but not change them.
        defaults: Arguments a caller may override.
        doc: One line for ``list_models``; default: the class and its fixed arguments.

    Returns:
        The builder function; ``variant_of``, ``fixed`` and ``defaults`` describe it.

    Example:
        >>> from mmbackbones.models import ResNet
        >>> build = MODELS.get('resnet50_v1d')
        >>> build.variant_of is ResNet, build.fixed['avg_down']
        (True, True)
    """
    fixed = dict(fixed or {})
    defaults = dict(defaults or {})

    def build(**kwargs):
        return cls(**apply_fixed(name, {**defaults, **kwargs}, fixed, cls.__name__))

    build.__name__ = build.__qualname__ = name
    build.__module__ = cls.__module__
    build.__doc__ = doc or f'{cls.__name__} with ' + ', '.join(
        f'{k}={v!r}' for k, v in fixed.items()) + '.'
    build.variant_of = cls
    build.fixed = fixed
    build.defaults = defaults
    MODELS.register_module(name=name, module=build)
    return build
