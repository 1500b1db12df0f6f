"""What a checkpoint layout is, and the small helpers the layouts share."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Union

import torch.nn as nn

#: ``(pattern, replacement)`` pairs applied with ``re.sub`` to every key, in order; a
#: replacement may be a string (with ``\\1`` groups) or a function of the match.
Rules = Sequence[tuple[str, Union[str, Callable[[re.Match], str]]]]


def keep(state_dict: dict, model: nn.Module) -> dict:
    """The identity key map: the layout's names are ours."""
    return state_dict


@dataclass(frozen=True)
class Layout:
    """A foreign checkpoint layout: how to recognise it and how to rename its keys to ours.

    The loader and the 2D-to-3D inflation (:mod:`mmbackbones.checkpoint.core`) ask every layout
    whether it recognises the checkpoint, rename the keys with each that does (under each
    candidate prefix), and keep the renaming that matches the model best; the load report names
    it ("layout: timm").

    What a *family* knows about a library's names (timm's deep stem, torchvision's VGG
    numbering) lives with the family, as ``foreign_key_maps = {layout name: convert}`` on its
    backbone class (:meth:`key_map`); a layout's own ``convert`` is what it does for every
    other model (a prefix, generic renames, or nothing).

    Attributes:
        name: The name the load report prints.
        detect: ``detect(state_dict, model) -> bool``: is this checkpoint (all its keys, wrapper
            prefixes such as ``backbone.`` included) in this layout?
        convert: ``convert(state_dict, model) -> dict``: the weights under one prefix (prefix
            removed) with our names, for a model whose family declares no key map for this
            layout. Keys it cannot place are returned unchanged (the report lists them as
            unexpected).
        prefixes: Where this layout's wrapper models keep the backbone, tried besides ``''``
            and the common ``backbone.``/``neck.``/... (e.g. detectron2's
            ``backbone.bottom_up.``).
    """
    name: str
    detect: Callable[[dict, nn.Module], bool]
    convert: Callable[[dict, nn.Module], dict] = keep
    prefixes: tuple[str, ...] = ()

    def key_map(self, model: nn.Module) -> Callable[[dict, nn.Module], dict]:
        """The key map for ``model``: its family's for this layout, else :attr:`convert`."""
        return getattr(model, 'foreign_key_maps', {}).get(self.name, self.convert)


def rename(state_dict: dict, rules: Rules) -> dict:
    """Apply ``rules`` (see :data:`Rules`) to every key, in order.

    Example:
        >>> rename({'stem.0.weight': 1}, [(r'^stem\\.0\\.', 'conv1.')])
        {'conv1.weight': 1}
    """
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def any_key(state_dict: dict, pattern: str) -> bool:
    """Whether any key matches ``pattern`` from its start (``re.match``)."""
    regex = re.compile(pattern)
    return any(regex.match(k) for k in state_dict)


def family_knows(model: nn.Module, layout: str) -> bool:
    """Whether ``model``'s family declares a key map for ``layout`` (``foreign_key_maps``)."""
    return layout in getattr(model, 'foreign_key_maps', {})


def norm_prefix(model: nn.Module) -> str:
    """The model's norm name without its number (``'bn'`` for BN, ``'gn'`` for GN, ...)."""
    return re.sub(r'\d+$', '', getattr(model, 'norm1_name', 'bn1'))
