"""Checks that turn config mistakes into one clear message before a run starts.

``tools/train.py`` and ``tools/test.py`` print a :class:`ConfigError` as ``error: <message>``
without a traceback: a missing config file, a ``--cfg-options`` key that names nothing in the
config (mmengine would silently add it), a run length that is not a positive int, a dataset
folder that does not exist, and a config of another OpenMMLab library (``mmdet::`` bases,
``default_scope='mmdet'``) that is not installed. :func:`fit_schedule` keeps every shipped
schedule valid for any run length (``--cfg-options train_cfg.max_epochs=1``). Loading a config
first applies the contained fixes of :mod:`mmbackbones.compat` (mmaction2 1.2.0's wheel cannot
import its models without one).
"""
from __future__ import annotations

import difflib
import glob
import importlib
import importlib.util
import inspect
import os.path as osp
import warnings
from typing import Any, Iterable, Optional

from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from .compat import apply_compat_fixes


class ConfigError(ValueError):
    """A user-facing configuration mistake; the message says what to change."""


#: How to install the library that a config's ``<package>::`` bases or default scope need.
INSTALL_HINTS = {'mmdet': 'bash tools/install.sh --with-mmdet',
                 'mmseg': 'bash tools/install.sh --with-mmseg',
                 'mmaction': 'bash tools/install.sh --with-mmaction',
                 # the tracking tier: scipy, motmetrics, trackeval (+ the mmdet tier)
                 'tracking': 'bash tools/install.sh --with-tracking',
                 'motmetrics': 'bash tools/install.sh --with-tracking',
                 'trackeval': 'bash tools/install.sh --with-tracking'}


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and merge ``--cfg-options`` into it, checking both.

    Args:
        path: The config file.
        cfg_options: ``{dotted.key: value}`` from ``--cfg-options``; every key must exist in the
            config or be an argument of the class its dict builds (see :func:`check_cfg_options`).

    Returns:
        The merged config.

    Example:
        >>> cfg = load_config('configs/resnet/resnet18_8xb16_digits.py',
        ...                   {'train_cfg.max_epochs': 1})
        >>> cfg.train_cfg.max_epochs
        1
    """
    if not osp.isfile(path):
        near = difflib.get_close_matches(path, glob.glob('configs/**/*.py', recursive=True), n=3)
        hint = f' Did you mean {", ".join(near)}?' if near else ''
        raise ConfigError(f'config file {path!r} does not exist.{hint}')
    apply_compat_fixes()  # before the config's custom_imports or scope import anything
    try:
        cfg = Config.fromfile(path)
    except ModuleNotFoundError as err:  # `_base_ = 'mmdet::...'` without mmdet
        package = err.name or str(err).split()[0]
        # mmengine names the pip project (mmsegmentation), configs name the scope (mmseg::)
        package = {'mmsegmentation': 'mmseg', 'mmaction2': 'mmaction'}.get(package, package)
        raise ConfigError(f'{path} needs {package}, which is not installed: '
                          f'{INSTALL_HINTS.get(package, f"pip install {package}")}') from err
    except (FileNotFoundError, SyntaxError, KeyError) as err:
        raise ConfigError(f'cannot read config {path!r}: {type(err).__name__}: {err}') from err
    check_scope_installed(cfg, path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    fit_schedule(cfg)
    return cfg


def fit_schedule(cfg: Config) -> None:
    """Check the run length and leave out schedulers that would start after the run ends.

    A schedule is written for the config's ``max_epochs`` (``max_iters``); a shorter run, such as a
    1-epoch smoke test, would otherwise make mmengine build e.g. a cosine phase with ``begin=1``
    and ``end=max_epochs=1`` and stop with "end should be larger than begin". Such a scheduler
    never acts in the shorter run, so it is left out, with a warning. Phases that end with the
    run take their length from it: our configs leave ``end`` (and cosine ``T_max``) unset.

    Args:
        cfg: The merged config; ``param_scheduler`` is updated in place.

    Raises:
        ConfigError: ``train_cfg.max_epochs`` (``max_iters``) is not an int >= 1.

    Example:
        >>> cfg = load_config('configs/resnet/resnet18_8xb16_digits.py',
        ...                   {'train_cfg.max_epochs': 1})  # warns: cosine phase left out
        >>> [s['type'] for s in cfg.param_scheduler]
        ['LinearLR']
    """
    train_cfg = cfg.get('train_cfg') or {}
    key = next((k for k in ('max_epochs', 'max_iters') if k in train_cfg), None)
    if key is None:
        return
    epochs = key == 'max_epochs'
    length = train_cfg[key]
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ConfigError(f'train_cfg.{key}={length!r} must be an int >= 1.')
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, dict) and 'type' in schedulers:
        schedulers = [schedulers]
    elif not isinstance(schedulers, (list, tuple)):
        return  # none, or one list per optimizer (OptimWrapperDict): left to mmengine
    kept = []
    for i, scheduler in enumerate(schedulers):
        begin = scheduler.get('begin', 0)
        if scheduler.get('by_epoch', True) == epochs and begin >= length:
            warnings.warn(f"param_scheduler[{i}] ({scheduler.get('type')}, begin={begin}) "
                          f'starts after the run ends (train_cfg.{key}={length}); it is left '
                          'out of this run.', stacklevel=2)
            continue
        kept.append(scheduler)
    cfg.param_scheduler = kept


def check_scope_installed(cfg: Config, path: str = 'the config') -> None:
    """Raise :class:`ConfigError` when the library of ``cfg.default_scope`` cannot build models.

    mmdet imports without full mmcv, then fails deep inside the Runner on its first compiled op;
    importing ``<scope>.models`` here turns that into one line that says what to install.

    Args:
        cfg: The loaded config.
        path: The config file, for the message.
    """
    scope = cfg.get('default_scope')
    if scope in (None, 'mmbackbones', 'mmengine'):
        return
    hint = INSTALL_HINTS.get(scope, f'pip install {scope}')
    if importlib.util.find_spec(scope) is None:
        raise ConfigError(f"{path} runs in default_scope={scope!r} and {scope} is not "
                          f'installed: {hint}')
    if importlib.util.find_spec(f'{scope}.models') is None:
        return
    apply_compat_fixes()
    try:
        importlib.import_module(f'{scope}.models')
    except Exception as err:  # noqa: BLE001 - any failure here means a broken install
        raise ConfigError(f"{path} runs in default_scope={scope!r} and {scope}.models cannot be "
                          f'imported ({type(err).__name__}: {err}); install: {hint}') from err


# Dicts the Runner reads without a ``type``, and the arguments each accepts.
def _typeless_arguments(path: str, node: dict) -> Optional[Iterable[str]]:
    from mmengine.optim import OptimWrapper
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner, TestLoop, ValLoop
    from torch.utils.data import DataLoader
    if path == '':
        return _arguments(Runner.__init__)
    if path == 'train_cfg':
        loop = EpochBasedTrainLoop if node.get('by_epoch') else IterBasedTrainLoop
        return list(_arguments(loop.__init__)) + ['by_epoch', 'type']
    if path in ('val_cfg', 'test_cfg'):
        return list(_arguments((ValLoop if path == 'val_cfg' else TestLoop).__init__)) + ['type']
    if path.endswith('_dataloader'):
        return list(_arguments(DataLoader.__init__)) + ['sampler', 'batch_sampler', 'dataset',
                                                        'collate_fn', 'worker_init_fn']
    if path == 'optim_wrapper':
        return list(_arguments(OptimWrapper.__init__)) + ['type', 'constructor',
                                                          'paramwise_cfg', 'loss_scale']
    if path == 'randomness':
        return _arguments(Runner.set_randomness)
    if path == 'env_cfg':
        return ['cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit']
    if path == 'env_cfg.mp_cfg':
        return ['mp_start_method', 'opencv_num_threads']
    if path == 'auto_scale_lr':
        return ['base_batch_size', 'enable']
    if path in ('default_hooks', 'env_cfg.dist_cfg', 'optim_wrapper.paramwise_cfg'):
        return None  # a name -> value map: any new name is fine
    return []


def _arguments(func) -> Iterable[str]:
    return [p for p in inspect.signature(func).parameters if p != 'self']


def _class_arguments(cls) -> Optional[list[str]]:
    """Named ``__init__`` arguments along the MRO; None when ``**kwargs`` swallow anything."""
    names: list[str] = []
    targets = cls.__mro__ if inspect.isclass(cls) else [cls]
    for klass in targets:
        func = klass.__init__ if inspect.isclass(cls) else klass
        if inspect.isclass(cls) and '__init__' not in vars(klass):
            continue
        params = inspect.signature(func).parameters.values()
        names += [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None


def _resolve_type(type_name: Any, scope: Optional[str]):
    if not isinstance(type_name, str):
        return type_name
    from mmengine import registry as reg
    roots = (reg.MODELS, reg.DATASETS, reg.TRANSFORMS, reg.HOOKS, reg.METRICS, reg.OPTIMIZERS,
             reg.PARAM_SCHEDULERS, reg.OPTIM_WRAPPERS, reg.DATA_SAMPLERS, reg.VISUALIZERS,
             reg.VISBACKENDS, reg.LOOPS, reg.LOG_PROCESSORS, reg.EVALUATOR, reg.FUNCTIONS,
             reg.WEIGHT_INITIALIZERS, reg.RUNNERS, reg.OPTIM_WRAPPER_CONSTRUCTORS, reg.TASK_UTILS)
    for root in roots:
        with root.switch_scope_and_registry(scope) as registry:
            try:
                found = registry.get(type_name)
            except KeyError:
                found = None
        if found is not None:
            return found
    return None


def check_cfg_options(cfg: Config, options: dict) -> None:
    """Raise :class:`ConfigError` for ``--cfg-options`` keys that name nothing.

    mmengine's ``merge_from_dict`` adds any key, so a typo (``model.backbone.dpeth=50``) would be
    silently ignored. A key is accepted when every part of its path exists in the config, or its
    last part is a new argument of the class that its dict builds (``type``) or of the Runner
    section it sits in (``train_cfg``, ``env_cfg``, dataloaders, ...).

    Args:
        cfg: The loaded config.
        options: ``{dotted.key: value}``.
    """
    scope = cfg.get('default_scope')
    problems = [p for p in (_check_key(cfg, key, scope) for key in options) if p]
    if problems:
        raise ConfigError('--cfg-options: ' + '\n  '.join(problems))


def _check_key(cfg: Config, key: str, scope: Optional[str]) -> Optional[str]:
    node: Any = cfg
    parts = key.split('.')
    for i, part in enumerate(parts):
        here = '.'.join(parts[:i])
        where = f'in {here}' if here else 'at the top level of the config'
        last = i == len(parts) - 1
        if isinstance(node, (list, tuple)):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            return (f'{key!r}: {here} is a list of {len(node)} items; {part!r} must be an index '
                    f'0..{len(node) - 1}.')
        if not hasattr(node, 'keys'):
            return f'{key!r}: {here} is a {type(node).__name__} ({node!r}), it has no keys.'
        if part in node:
            node = node[part]
            continue
        if 'type' in node:
            cls = _resolve_type(node['type'], scope)
            allowed = _class_arguments(cls) if cls is not None else None
            owner = f"{node['type'] if isinstance(node['type'], str) else cls.__name__}"
        else:
            allowed = _typeless_arguments(here, node)
            owner = here or 'Runner'
        if last and (allowed is None or part in allowed):
            return None
        known = sorted(set(node.keys()) | set(allowed or []))
        near = difflib.get_close_matches(part, known, n=3)
        hint = f' Did you mean {", ".join(repr(n) for n in near)}?' if near else ''
        return (f'{key!r}: no key {part!r} {where}' +
                (f', and {owner} takes no argument {part!r}' if last else '') +
                f'.{hint} Keys there: {", ".join(sorted(node.keys()))}.')
    return None


def check_dataset_paths(cfg: Config, dataloaders: Iterable[str]) -> None:
    """Raise :class:`ConfigError` when a dataset's ``data_root`` (or ``ann_file``) is missing.

    Datasets that prepare their own folder (``prepares_data_root = True``, like the digits) are
    skipped.

    Args:
        cfg: The merged config.
        dataloaders: The dataloader fields the run will use, e.g. ``('train_dataloader',)``.
    """
    problems = []
    for field in dataloaders:
        loader = cfg.get(field)
        if loader and loader.get('dataset') is not None:
            problems += _dataset_problems(loader['dataset'], f'{field}.dataset',
                                          cfg.get('default_scope'))
    if problems:
        raise ConfigError('\n  '.join(problems))


def _dataset_problems(dataset: Any, path: str, scope: Optional[str]) -> list[str]:
    if not hasattr(dataset, 'keys'):
        return []
    problems = []
    if dataset.get('dataset') is not None:  # wrappers: RepeatDataset, ClassBalancedDataset
        problems += _dataset_problems(dataset['dataset'], f'{path}.dataset', scope)
    for i, child in enumerate(dataset.get('datasets') or []):  # ConcatDataset
        problems += _dataset_problems(child, f'{path}.datasets.{i}', scope)
    cls = _resolve_type(dataset.get('type'), scope)
    if getattr(cls, 'prepares_data_root', False):
        return problems
    root = dataset.get('data_root') or ''
    if isinstance(root, str) and root and '://' not in root and not osp.isdir(root):
        problems.append(
            f"{path}.data_root={root!r} does not exist (dataset type={dataset.get('type')!r}). "
            f'Put the dataset there (a symlink is fine) or point the run at it with '
            f'--cfg-options {path}.data_root=/path/to/data')
        return problems
    ann = dataset.get('ann_file') or ''
    if isinstance(ann, str) and ann and '://' not in ann:
        full = ann if osp.isabs(ann) else osp.join(root, ann)
        if not osp.exists(full):
            problems.append(f'{path}.ann_file={ann!r} does not exist (looked at {full!r}).')
    return problems


def build_model_from_cfg(cfg: Config):
    """Build ``cfg.model`` as the Runner would: in the config's default scope, with the
    top-level ``data_preprocessor`` when the model dict has none.

    Example:
        >>> cfg = load_config('configs/resnet/resnet18_8xb16_digits.py')
        >>> type(build_model_from_cfg(cfg)).__name__
        'ImageClassifier'
    """
    init_default_scope(cfg.get('default_scope', 'mmbackbones'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    return MODELS.build(model_cfg)
