"""Reference numbers of the model zoo, read from the repository's OpenMMLab-style metafiles.

``model-index.yml`` (at the root of a checkout, or in ``mmbackbones/.mim`` of an installed
package, the OpenMMLab layout ``mim`` reads) lists ``configs/<family>/metafile.yml``; each model
entry names a registered variant (``resnet50``) or a config, its paper (through its collection),
parameters, FLOPs (multiply-accumulates), config and where its weights come from. Tests take their
golden counts from here, ``tools/misc/list_models.py`` shows them as columns and
``tools/analysis_tools/get_flops.py`` prints them next to what it measures.
"""
from __future__ import annotations

import functools
import os.path as osp
from dataclasses import dataclass, field
from typing import Any

#: The repository checkout this package lives in, when it lives in one.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Where an installed package keeps its configs, tools and model-index.yml.
MIM_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim')


def zoo_root() -> str:
    """The folder holding ``model-index.yml`` and ``configs/``: the checkout when the package
    runs from one, else the installed ``mmbackbones/.mim``.

    Example:
        >>> osp.isfile(osp.join(zoo_root(), 'model-index.yml'))
        True
    """
    if osp.isfile(osp.join(REPO_ROOT, 'model-index.yml')) and \
            osp.isdir(osp.join(REPO_ROOT, 'mmbackbones')):
        return REPO_ROOT
    return MIM_ROOT


@dataclass(frozen=True)
class ZooEntry:
    """One model of a metafile; numbers are ``None`` where the metafile gives none."""

    name: str
    collection: str
    paper: dict = field(default_factory=dict)
    config: str | None = None
    params: int | None = None
    backbone_params: int | None = None
    flops: int | None = None
    input_shape: tuple[int, ...] | None = None
    weights: str | None = None
    metadata: dict = field(default_factory=dict)


def _entry(model: dict, collections: dict) -> ZooEntry:
    meta = model.get('Metadata') or {}
    shape = meta.get('Input Shape')
    return ZooEntry(name=model['Name'], collection=model['In Collection'],
                    paper=collections.get(model['In Collection'], {}).get('Paper', {}),
                    config=model.get('Config'), params=meta.get('Parameters'),
                    backbone_params=meta.get('Backbone Parameters'), flops=meta.get('FLOPs'),
                    input_shape=tuple(shape) if shape else None,
                    weights=(model.get('Converted From') or {}).get('Weights'), metadata=meta)


@functools.lru_cache(maxsize=4)
def load_zoo(root: str | None = None) -> dict[str, ZooEntry]:
    """Every model of every metafile that ``root/model-index.yml`` imports, by name.

    Args:
        root: The folder of ``model-index.yml``; default :func:`zoo_root`.

    Returns an empty dict where the files are absent (a package built without them).
    """
    import yaml
    root = zoo_root() if root is None else root
    index_path = osp.join(root, 'model-index.yml')
    if not osp.isfile(index_path):
        return {}
    with open(index_path) as f:
        index = yaml.safe_load(f)
    zoo: dict[str, ZooEntry] = {}
    for path in index.get('Import', []):
        with open(osp.join(root, path)) as f:
            metafile = yaml.safe_load(f)
        collections = {c['Name']: c for c in metafile.get('Collections', [])}
        for model in metafile.get('Models', []):
            if model['Name'] in zoo:
                raise ValueError(f'{path}: model {model["Name"]!r} is listed twice in the zoo.')
            zoo[model['Name']] = _entry(model, collections)
    return zoo


def zoo_entry(name: str) -> ZooEntry | None:
    """The metafile entry of ``name`` (a variant name or a config's base name), or ``None``."""
    zoo = load_zoo()
    if name in zoo:
        return zoo[name]
    for entry in zoo.values():
        if entry.config and osp.splitext(osp.basename(entry.config))[0] == name:
            return entry
    return None


def metadata(name: str, key: str) -> Any:
    """``Metadata[key]`` of ``name``; ``KeyError`` naming both when the zoo has no such number."""
    entry = zoo_entry(name)
    if entry is None or key not in entry.metadata:
        raise KeyError(f'no {key!r} for {name!r} in the metafiles listed by model-index.yml.')
    return entry.metadata[key]
