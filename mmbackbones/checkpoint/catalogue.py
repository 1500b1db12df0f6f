"""Reference numbers of the model zoo, read from the repository's OpenMMLab-style metafiles.

``model-index.yml`` (at the root of a checkout, or in ``mmbackbones/.mim`` of an installed
package, the OpenMMLab layout ``mim`` reads) lists ``configs/<family>/metafile.yml``; each model
entry names a registered variant (``resnet50``) or a config, its paper (through its collection),
parameters, FLOPs (multiply-accumulates), config and where its weights come from. Tests take their
golden counts from here, ``tools/misc/list_models.py`` shows them as columns and
``tools/analysis_tools/get_flops.py`` prints them next to what it measures.

Published checkpoints are entries of their own, named ``<variant>.<tag>`` (``resnet50.tv_in1k``)
with ``Metadata: Variant`` naming the variant, ``Weights`` the URL and ``Results`` the published
metric, the way OpenMMLab metafiles list one model per checkpoint; :class:`WeightsEntry` reads
them (:mod:`mmbackbones.hub` downloads them).
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


@dataclass(frozen=True)
class WeightsEntry:
    """A published checkpoint of a named variant (timm's ``pretrained_cfg``, torchvision's
    ``Weights``): where it is, how it was made and what it needs.

    Attributes:
        name: ``<variant>.<tag>``, e.g. ``'resnet50.tv_in1k'``.
        variant: The registered variant the weights load into.
        url: The published file.
        sha256: Its SHA-256, or the prefix of it that the file name carries.
        layout: Whose key names the file uses (``torchvision``, ``mmpretrain``, ``timm``).
        input_size: ``(height, width)`` of the evaluation crop.
        resize_size: The shorter side before the crop.
        mean: Per-channel mean on the 0-255 scale, in ``channel_order``.
        std: Per-channel std on the 0-255 scale.
        channel_order: ``'RGB'`` or ``'BGR'``.
        metrics: The published results (``{'Top 1 Accuracy': 76.13, ...}``).
        dataset: What the metrics were measured on.
        source: Where the entry's numbers come from.
        license: The weights' license (SPDX).
        default: Whether ``build_model(variant, pretrained=True)`` takes this entry.
        arguments: Constructor arguments the weights need beyond the variant's
            (Res2Net's ``stride1_pool=True`` for the original code's weights).
    """

    name: str
    variant: str
    url: str
    sha256: str
    layout: str
    input_size: tuple[int, int]
    resize_size: int | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channel_order: str
    metrics: dict
    dataset: str
    source: str
    license: str
    default: bool = False
    arguments: dict = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return self.name.split('.', 1)[1]

    def data_preprocessor(self, kind: str = 'mmpretrain.ClsDataPreprocessor', **kwargs) -> dict:
        """The ``data_preprocessor`` dict that normalises images as these weights were trained.

        Args:
            kind: The preprocessor type (``'mmpretrain.ClsDataPreprocessor'``,
                ``'mmdet.DetDataPreprocessor'``, ``'mmseg.SegDataPreProcessor'``, ...).
            **kwargs: More keys of the dict (``pad_size_divisor=32``, ``num_classes=10``).

        Example:
            >>> weights_entry('resnet50.tv_in1k').data_preprocessor()['mean']
            [123.675, 116.28, 103.53]
        """
        # images are loaded BGR (mmcv/OpenCV); to_rgb flips them for RGB-trained weights
        return dict(type=kind, mean=list(self.mean), std=list(self.std),
                    to_rgb=self.channel_order == 'RGB', **kwargs)


def _weights(model: dict) -> WeightsEntry:
    meta = model['Metadata']
    results = (model.get('Results') or [{}])[0]
    return WeightsEntry(
        name=model['Name'], variant=meta['Variant'], url=model['Weights'],
        sha256=str(meta['SHA256']), layout=meta['Layout'],
        input_size=tuple(meta['Input Size']), resize_size=meta.get('Resize Size'),
        mean=tuple(meta['Mean']), std=tuple(meta['Std']), channel_order=meta['Channel Order'],
        metrics=dict(results.get('Metrics') or {}), dataset=results.get('Dataset', ''),
        source=meta['Source'], license=meta['License'], default=bool(meta.get('Default')),
        arguments=dict(meta.get('Arguments') or {}))


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
def _read_metafiles(root: str) -> tuple[tuple[str, dict, dict], ...]:
    """``(metafile path, model, collections)`` of every model ``root/model-index.yml`` imports."""
    import yaml
    index_path = osp.join(root, 'model-index.yml')
    if not osp.isfile(index_path):
        return ()
    with open(index_path) as f:
        index = yaml.safe_load(f)
    models = []
    for path in index.get('Import', []):
        with open(osp.join(root, path)) as f:
            metafile = yaml.safe_load(f)
        collections = {c['Name']: c for c in metafile.get('Collections', [])}
        models += [(path, model, collections) for model in metafile.get('Models', [])]
    return tuple(models)


@functools.lru_cache(maxsize=4)
def load_zoo(root: str | None = None) -> dict[str, ZooEntry]:
    """Every model of every metafile that ``root/model-index.yml`` imports, by name.

    Args:
        root: The folder of ``model-index.yml``; default :func:`zoo_root`.

    Returns an empty dict where the files are absent (a package built without them).
    """
    zoo: dict[str, ZooEntry] = {}
    for path, model, collections in _read_metafiles(zoo_root() if root is None else root):
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
        is_weights = 'Variant' in entry.metadata  # a checkpoint's entry, not the variant's
        if entry.config and not is_weights and \
                osp.splitext(osp.basename(entry.config))[0] == name:
            return entry
    return None


def metadata(name: str, key: str) -> Any:
    """``Metadata[key]`` of ``name``; ``KeyError`` naming both when the zoo has no such number."""
    entry = zoo_entry(name)
    if entry is None or key not in entry.metadata:
        raise KeyError(f'no {key!r} for {name!r} in the metafiles listed by model-index.yml.')
    return entry.metadata[key]


@functools.lru_cache(maxsize=4)
def load_weights(root: str | None = None) -> dict[str, WeightsEntry]:
    """Every published checkpoint of the metafiles, by ``<variant>.<tag>`` name.

    Raises:
        ValueError: A variant has no default entry, or more than one.
    """
    load_zoo(root)  # names are unique
    found = {model['Name']: _weights(model)
             for _, model, _ in _read_metafiles(zoo_root() if root is None else root)
             if 'Variant' in (model.get('Metadata') or {})}
    defaults: dict[str, list[str]] = {}
    for entry in found.values():
        defaults.setdefault(entry.variant, [])
        if entry.default:
            defaults[entry.variant].append(entry.name)
    bad = {v: d for v, d in defaults.items() if len(d) != 1}
    if bad:
        raise ValueError(f'the metafiles must mark exactly one Default weights entry per variant; '
                         f'got {bad}.')
    return found


def weights_entry(name: str) -> WeightsEntry:
    """The entry ``'<variant>.<tag>'`` names, or the default entry of ``'<variant>'``.

    Raises:
        KeyError: No such entry; the message lists the variant's tags or the variants that
            have weights.

    Example:
        >>> weights_entry('resnet50').name
        'resnet50.tv_in1k'
    """
    weights = load_weights()
    if name in weights:
        return weights[name]
    variant = name.split('.', 1)[0]
    tags = sorted(w.name for w in weights.values() if w.variant == variant)
    if '.' not in name and tags:
        return next(weights[t] for t in tags if weights[t].default)
    if tags:
        raise KeyError(f'no weights {name!r}; {variant} has: {tags}.')
    raise KeyError(f'no published weights for {variant!r}; variants with weights: '
                   f'{sorted({w.variant for w in weights.values()})}.')
