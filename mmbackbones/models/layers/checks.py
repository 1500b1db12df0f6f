"""Validation of what users type in backbone configs.

Every check raises ``ValueError``/``KeyError``/``TypeError`` whose message names the argument, the
value and what is allowed, so a wrong config fails at build time instead of deep in ``forward``.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import torch.nn as nn
from mmengine.registry import MODELS as MMENGINE_MODELS


def check_choice(arg: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(f'{arg}={value!r} is not supported; allowed: {list(allowed)}.')


def check_int(arg: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{arg} must be an int, got {value!r} ({type(value).__name__}).')
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f'{arg}={value} is out of range; allowed: {low}..{high}.')
    return value


def normalize_out_indices(out_indices: Any, num_stages: int, arg: str = 'out_indices') -> tuple:
    """Return ``out_indices`` as a tuple of non-negative stage indices, in the given order.

    An int is taken as a one-element tuple; negative indices count from the last stage.
    """
    if isinstance(out_indices, int) and not isinstance(out_indices, bool):
        out_indices = (out_indices, )
    if not isinstance(out_indices, Sequence) or isinstance(out_indices, str):
        raise TypeError(f'{arg} must be an int or a sequence of ints, got {out_indices!r}.')
    if len(out_indices) == 0:
        raise ValueError(f'{arg} is empty; give at least one stage index in '
                         f'[{-num_stages}, {num_stages - 1}].')
    result = []
    for idx in out_indices:
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f'{arg} entries must be ints, got {idx!r} in {tuple(out_indices)}.')
        if not -num_stages <= idx < num_stages:
            raise ValueError(f'{arg}={tuple(out_indices)} has {idx}, past the last stage; allowed '
                             f'indices for num_stages={num_stages}: {-num_stages}..'
                             f'{num_stages - 1}.')
        result.append(idx % num_stages)
    if len(set(result)) != len(result):
        raise ValueError(f'{arg}={tuple(out_indices)} names a stage twice.')
    return tuple(result)


def per_stage(arg: str, value: Any, num_stages: int, default: Sequence) -> tuple:
    """A per-stage setting: ``None`` takes the first ``num_stages`` defaults; else length must
    equal ``num_stages``."""
    if value is None:
        return tuple(default[:num_stages])
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f'{arg} must be a sequence with one entry per stage, got {value!r}.')
    if len(value) != num_stages:
        raise ValueError(f'{arg}={tuple(value)} has {len(value)} entries but num_stages='
                         f'{num_stages}; give exactly one per stage.')
    return tuple(value)


_KIND_BASES = {
    'norm': (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm),
    'conv': (nn.modules.conv._ConvNd, ),
}


def _lookup(layer_type: str):
    """Resolve a layer type the way mmcv's builders do: in the current default scope's registry
    (mmbackbones, mmdet, ...) and its parents."""
    with MMENGINE_MODELS.switch_scope_and_registry(None) as registry:
        return registry.get(layer_type), registry


def _allowed(registry, kind: str) -> list[str]:
    names = set()
    while registry is not None:
        names.update(registry.module_dict)
        registry = registry.parent
    names.update(MMENGINE_MODELS.module_dict)
    bases = _KIND_BASES.get(kind)
    if bases is None:
        return sorted(names)
    found = []
    for name in names:
        cls, _ = _lookup(name)
        if isinstance(cls, type) and issubclass(cls, bases):
            found.append(name)
    return sorted(found)


def check_layer_cfg(arg: str, cfg: Any, kind: str, allow_none: bool = True) -> None:
    """Check a ``conv_cfg``/``norm_cfg``/plugin dict names a registered layer of that kind."""
    if cfg is None:
        if allow_none:
            return
        raise TypeError(f'{arg} must be a dict with a "type" key, got None.')
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'{arg} must be a dict with a "type" key, e.g. dict(type=...), '
                        f'got {cfg!r}.')
    layer_type = cfg['type']
    if not isinstance(layer_type, str):
        return  # a class given directly: mmcv's builders accept it
    cls, registry = _lookup(layer_type)
    bases = _KIND_BASES.get(kind)
    if cls is None or (bases is not None and not (isinstance(cls, type)
                                                  and issubclass(cls, bases))):
        raise KeyError(f'{arg}={cfg!r}: type {layer_type!r} is not a registered {kind} layer; '
                       f'allowed: {_allowed(registry, kind)}.')


def check_dcn(dcn: Any, conv_cfg: Any) -> None:
    """``dcn`` needs mmcv's compiled ops; say so instead of failing inside mmcv."""
    if dcn is None:
        return
    if not isinstance(dcn, dict) or 'type' not in dcn:
        raise TypeError(f'dcn must be None or a dict like dict(type="DCN", deform_groups=1, '
                        f'fallback_on_stride=False), got {dcn!r}.')
    if conv_cfg is not None:
        raise ValueError(f'dcn={dcn!r} replaces the 3x3 conv, so conv_cfg must be None; got '
                         f'conv_cfg={conv_cfg!r}.')
    try:
        import mmcv.ops  # noqa: F401  (registers DCN/DCNv2 conv layers)
    except (ImportError, OSError) as err:
        raise ImportError(
            f'dcn={dcn!r} needs mmcv with compiled ops (mmcv.ops), but it cannot be imported '
            f'here ({err}). mmcv-lite has no compiled ops: build full mmcv once with '
            '`bash tools/build_mmcv.sh` (see README.md), or remove dcn from the config.') from err
    check_layer_cfg('dcn', dcn, 'deformable conv')


PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


def check_plugins(plugins: Any, num_stages: int) -> None:
    """Check the mmdet-style stage plugin list: ``[dict(cfg=..., position=..., stages=...)]``."""
    if plugins is None:
        return
    if isinstance(plugins, dict) or not isinstance(plugins, Sequence):
        raise TypeError(f'plugins must be a list of dict(cfg=..., position=..., stages=...), '
                        f'got {plugins!r}.')
    for plugin in plugins:
        if not isinstance(plugin, dict) or 'cfg' not in plugin or 'position' not in plugin:
            raise TypeError(f'each plugins entry must be dict(cfg=dict(type=...), position=..., '
                            f'stages=None|per-stage bools), got {plugin!r}.')
        unknown = set(plugin) - {'cfg', 'position', 'stages'}
        if unknown:
            raise KeyError(f'plugins entry {plugin!r} has unknown keys {sorted(unknown)}; '
                           'allowed: cfg, position, stages.')
        check_choice('plugins position', plugin['position'], PLUGIN_POSITIONS)
        check_layer_cfg('plugins cfg', plugin['cfg'], 'plugin', allow_none=False)
        if plugin.get('stages') is not None:
            per_stage('plugins stages', plugin['stages'], num_stages, ())


# ---------------------------------------------------------------- typed constructor arguments
def check_init_cfg(init_cfg: Any) -> None:
    """``init_cfg`` must name registered initializers (mmengine's ``WEIGHT_INITIALIZERS``, which
    includes ``'Pretrained'``): a typo fails at build time, not later inside ``init_weights()``."""
    if init_cfg is None:
        return
    from mmengine.registry import WEIGHT_INITIALIZERS
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    allowed = sorted(WEIGHT_INITIALIZERS.module_dict)
    for cfg in cfgs:
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise TypeError(f'init_cfg must be None, a dict(type=...) or a list of them, got '
                            f'{init_cfg!r}; allowed types: {allowed}.')
        override = cfg.get('override') or []
        for entry in [cfg] + (override if isinstance(override, list) else [override]):
            init_type = entry.get('type') if isinstance(entry, dict) else None
            if isinstance(init_type, str) and WEIGHT_INITIALIZERS.get(init_type) is None:
                raise KeyError(f'init_cfg={init_cfg!r}: type {init_type!r} is not a registered '
                               f'initializer; allowed: {allowed}.')


_SEQUENCE_ORIGINS = (Sequence, tuple)
_NAMES = {bool: ('a bool (True or False)', 'bools'), int: ('an int', 'ints'),
          float: ('a float', 'floats'), dict: ('a dict', 'dicts')}


def _arms(hint: Any) -> tuple:
    return get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint, )


def _is_sequence_hint(hint: Any) -> bool:
    return hint in _SEQUENCE_ORIGINS or get_origin(hint) in _SEQUENCE_ORIGINS


def _accepts(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits ``hint``. Only bool, int, float and sequences are judged here; other
    hints (str, dict, configs, classes) are left to the family's own checks, which know more."""
    if get_origin(hint) in (Union, UnionType):
        return any(_accepts(value, arm) for arm in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if _is_sequence_hint(hint):
        if isinstance(value, (str, bytes)) or not isinstance(value, _SEQUENCE_ORIGINS):
            return False
        args = get_args(hint)
        if get_origin(hint) is tuple and args and args[-1] is not Ellipsis:  # fixed length
            return len(value) == len(args) and all(_accepts(v, a) for v, a in zip(value, args))
        return not args or all(_accepts(v, args[0]) for v in value)
    return True


def _describe(hint: Any, plural: bool = False) -> str:
    arms = _arms(hint)
    if len(arms) > 1:
        words = [_describe(arm, plural) for arm in arms if arm is not type(None)]
        return ' or '.join(words + (['None'] if type(None) in arms else []))
    if hint in _NAMES:
        return _NAMES[hint][plural]
    if _is_sequence_hint(hint):
        args = get_args(hint)
        what = 'lists or tuples' if plural else 'a list or tuple'
        return f'{what} of {_describe(args[0], plural=True)}' if args else what
    return getattr(hint, '__name__', str(hint)) + ('s' if plural else '')


def check_typed(arg: str, value: Any, hint: Any) -> None:
    """``TypeError`` naming ``arg``, ``value`` and what is allowed when ``value`` does not fit the
    annotation ``hint`` (a bool is not an int, a str is not a sequence, ``1.0`` is not an int)."""
    if _accepts(value, hint):
        return
    for arm in _arms(hint):
        if _is_sequence_hint(arm) and get_args(arm) and get_origin(arm) is not tuple and \
                isinstance(value, _SEQUENCE_ORIGINS) and not isinstance(value, (str, bytes)):
            element = get_args(arm)[0]
            for v in value:
                if not _accepts(v, element):
                    raise TypeError(f'{arg} entries must be {_describe(element, plural=True)}, '
                                    f'got {v!r} in {tuple(value)!r}.')
    raise TypeError(f'{arg} must be {_describe(hint)}, got {value!r} '
                    f'({type(value).__name__}).')


_HINTS: dict[Callable, tuple[inspect.Signature, dict[str, Any]]] = {}


def validate_args(func: Callable, args: tuple, kwargs: dict, skip: Sequence[str] = ()) -> None:
    """Check the arguments of a call ``func(*args, **kwargs)`` against ``func``'s annotations.

    A call that does not bind (a typo in an argument name, too many positional arguments) is left
    to Python, whose own ``TypeError`` names the function and the argument. ``skip`` names the
    arguments ``func`` checks itself.
    """
    if func not in _HINTS:
        _HINTS[func] = inspect.signature(func), get_type_hints(func)
    signature, hints = _HINTS[func]
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return
    for name, value in bound.arguments.items():
        param = signature.parameters[name]
        if name in hints and name not in skip and param.kind not in (param.VAR_POSITIONAL,
                                                                     param.VAR_KEYWORD):
            check_typed(name, value, hints[name])


def validating(init: Callable, skip: Sequence[str] = ()) -> Callable:
    """``init`` that first checks its arguments with :func:`validate_args`."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        validate_args(init, (self, ) + args, kwargs, skip)
        return init(self, *args, **kwargs)

    wrapper.validates_args = True
    return wrapper
