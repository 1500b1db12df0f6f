"""Reading checkpoint files safely.

``torch.load(..., weights_only=True)`` unpickles only tensors and plain containers; a pickle that
names any other global (``os.system``, a class with a custom ``__reduce__``, ...) is refused before
anything runs. We allow, on top of torch's list, the plain-data types that OpenMMLab training
checkpoints carry in their ``meta``/``message_hub`` (numpy scalars and arrays, mmengine's
``HistoryBuffer``), so our own work-dir checkpoints load too. ``.safetensors`` files are read with
safetensors.
"""
from __future__ import annotations

import os
import os.path as osp
import pickle
from urllib.parse import urlparse

import torch


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file would have to run code to load; it was refused."""


def _extra_safe_globals() -> list:
    found = []
    try:
        import numpy as np
        found += [np.ndarray, np.dtype, np.core.multiarray._reconstruct,
                  np.core.multiarray.scalar]
        found += [type(np.dtype(t)) for t in ('f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1',
                                             'b1')]
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
        found.append(HistoryBuffer)
        # A pickled HistoryBuffer stores its statistics as getattr(HistoryBuffer, 'mean'), ...
        # Plain getattr would open every attribute of every allowed object; this one resolves
        # only public attributes of HistoryBuffer.
        found.append((_history_buffer_getattr, 'builtins.getattr'))
    except ImportError:  # pragma: no cover
        pass
    return found


def _history_buffer_getattr(obj, name: str):
    from mmengine.logging.history_buffer import HistoryBuffer
    if not (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) or name.startswith('_'):
        raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')
    return getattr(obj, name)


def _resolve_url(name: str) -> str | None:
    """Map OpenMMLab's ``torchvision://``/``open-mmlab://``/``mmcls://`` names to a URL."""
    from mmengine.runner import checkpoint as mmckpt
    for prefix, table in (('torchvision://', mmckpt.get_torchvision_models),
                          ('open-mmlab://', mmckpt.get_external_models),
                          ('openmmlab://', mmckpt.get_external_models),
                          ('mmcls://', mmckpt.get_mmcls_models)):
        if name.startswith(prefix):
            key = name[len(prefix):]
            urls = table()
            if key not in urls:
                raise KeyError(f'checkpoint={name!r}: unknown model name {key!r} for {prefix}; '
                               f'known: {sorted(urls)[:20]}...')
            return urls[key]
    if name.startswith(('http://', 'https://')):
        return name
    return None


def resolve_checkpoint(name: str) -> str:
    """Return a local file for ``name``: a path, or a URL/model-zoo name cached in torch hub."""
    url = _resolve_url(name)
    if url is None:
        if not osp.isfile(name):
            raise FileNotFoundError(f'checkpoint={name!r} is not a file.')
        return name
    cached = osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))
    if not osp.isfile(cached):
        os.makedirs(osp.dirname(cached), exist_ok=True)
        try:
            # torch downloads to a temporary file and renames it: no half-written cache entry.
            torch.hub.download_url_to_file(url, cached, progress=True)
        except Exception as err:
            raise FileNotFoundError(
                f'checkpoint={name!r}: could not download {url} ({err}). Without network, put '
                f'the file at {cached} or pass a local path.') from err
    return cached


def load_file(name: str) -> dict:
    """Load a checkpoint without running code from it. Returns what the file holds."""
    path = resolve_checkpoint(name)
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file as load_safetensors
        return load_safetensors(path, device='cpu')
    try:
        with torch.serialization.safe_globals(_extra_safe_globals()):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'Refused to load {path}: it is not plain tensor data, and unpickling it could run '
            f'code ({str(err).splitlines()[0]}). If you trust the file, re-save its weights '
            "once with torch.save(torch.load(path, weights_only=False)['state_dict'], new_path) "
            'and load new_path.') from err


def extract_state_dict(checkpoint: dict) -> dict:
    """The weights inside a checkpoint: ``state_dict`` (OpenMMLab), ``model`` (detectron2,
    timm train), ``module``, or the dict itself (torchvision, timm); ``module.`` removed."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'a checkpoint must hold a dict, got {type(checkpoint).__name__}.')
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def save_atomic(obj, path: str) -> None:
    """``torch.save`` to a temporary file next to ``path``, then rename: never half-written."""
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
