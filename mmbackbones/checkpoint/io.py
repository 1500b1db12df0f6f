"""Reading checkpoint files safely.

``torch.load(..., weights_only=True)`` unpickles only tensors and plain containers; a pickle that
names any other global (``os.system``, a class with a custom ``__reduce__``, ...) is refused before
anything runs. We allow, on top of torch's list, the plain-data types that OpenMMLab training
checkpoints carry in their ``meta``/``message_hub`` (numpy scalars and arrays, mmengine's
``HistoryBuffer``), so our own work-dir checkpoints load too. ``.safetensors`` files are read with
safetensors; ``.pkl`` files (detectron2 and Caffe2 model zoos: pickled dicts of numpy arrays) with
an unpickler that rebuilds numpy arrays and builtin containers and refuses everything else.

Every way a file can be unreadable (missing, a folder, empty, text, truncated, corrupt) ends in
one :class:`CheckpointFileError` naming the file and what is wrong; a missing file is also a
``FileNotFoundError`` and a refused pickle also a ``pickle.UnpicklingError``.
"""
from __future__ import annotations

import collections
import contextlib
import io
import os.path as osp
import pickle
import re

import numpy as np
import torch

from . import hub
from .errors import CheckpointFileError, CheckpointNotFoundError, UnsafeCheckpointError


def _numpy_reconstructors() -> dict:
    """numpy's array/scalar rebuilders under the names pickles use: ``numpy.core.multiarray.*``
    (written by numpy 1) and ``numpy._core.multiarray.*`` (numpy 2), whichever numpy runs."""
    try:
        import numpy._core.multiarray as multiarray
    except ImportError:  # numpy 1
        import numpy.core.multiarray as multiarray
    return {f'{module}.{func.__name__}': func
            for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
            for func in (multiarray._reconstruct, multiarray.scalar)}


def safe_globals() -> list:
    """What ``torch.load(weights_only=True)`` may rebuild beyond torch's own list: numpy arrays,
    dtypes and scalars, and mmengine's ``HistoryBuffer`` (with a ``getattr`` limited to its
    public attributes), which OpenMMLab training checkpoints carry in ``meta``/``message_hub``.

    Example:
        >>> with torch.serialization.safe_globals(safe_globals()):  # doctest: +SKIP
        ...     torch.load('work_dirs/run/epoch_1.pth', weights_only=True)
    """
    found = [np.ndarray, np.dtype] + [(func, name) for name, func in
                                      _numpy_reconstructors().items()]
    found += [type(np.dtype(t)) for t in ('f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'b1')]
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


@contextlib.contextmanager
def allow_safe_globals():
    """Let ``torch.load(weights_only=True)`` rebuild :func:`safe_globals` in this block.

    Unlike ``torch.serialization.safe_globals``, whose exit removes every entry it was given,
    this adds only the entries not allowed already and removes only those on exit, so it nests:
    a load inside another block that allows them (``training_checkpoint_globals`` around a
    training run, whose ``init_cfg`` loaders read checkpoints too) leaves that block's list
    intact.
    """
    allowed = torch.serialization.get_safe_globals()
    added = [g for g in safe_globals() if g not in allowed]
    torch.serialization.add_safe_globals(added)
    try:
        yield
    finally:
        remaining = [g for g in torch.serialization.get_safe_globals() if g not in added]
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(remaining)


def _history_buffer_getattr(obj, name: str):
    from mmengine.logging.history_buffer import HistoryBuffer
    if not (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) or name.startswith('_'):
        raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')
    return getattr(obj, name)


def resolve_checkpoint(name: str) -> str:
    """Return a local file for ``name``: a path, or a URL/model-zoo name downloaded into torch
    hub's cache by :func:`mmbackbones.hub.resolve` (hash-checked, once per machine)."""
    cached = hub.resolve(str(name))
    if cached is None:
        if osp.isdir(name):
            raise CheckpointFileError(f'checkpoint={name!r} is a directory, not a checkpoint '
                                      'file; name the .pth/.pkl/.safetensors file inside it.')
        if not osp.isfile(name):
            raise CheckpointNotFoundError(f'checkpoint={name!r} is not a file (no such file).')
        return str(name)
    return cached


# ----------------------------------------------------------------------------- .pkl files
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays/dtypes/scalars and builtin containers; any other global is refused
    before it is called (detectron2/Caffe2 ``.pkl`` model-zoo files need nothing else)."""

    def find_class(self, module: str, name: str):
        allowed = dict(_numpy_reconstructors(), **{
            'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype,
            'collections.OrderedDict': collections.OrderedDict, '_codecs.encode': _latin1_bytes})
        if f'{module}.{name}' in allowed:
            return allowed[f'{module}.{name}']
        raise pickle.UnpicklingError(f'global {module}.{name} is not allowed in a .pkl checkpoint')


def _latin1_bytes(text: str, encoding: str = 'utf-8') -> bytes:
    """How protocol-2 pickles written by Python 3 store bytes (``_codecs.encode(s, 'latin1')``);
    only that use of ``_codecs.encode`` is allowed."""
    if encoding not in ('latin1', 'latin-1') or not isinstance(text, str):
        raise pickle.UnpicklingError(f'_codecs.encode(..., {encoding!r}) is not allowed in a '
                                     '.pkl checkpoint')
    return text.encode('latin1')


def _arrays_to_tensors(obj):
    """numpy arrays of numbers in (nested) dicts as tensors; everything else as it is."""
    if isinstance(obj, dict):
        return {k: _arrays_to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray) and obj.dtype.kind in 'biuf':
        return torch.from_numpy(np.array(obj))  # a writable, contiguous copy
    return obj


def _load_pkl(path: str):
    with open(path, 'rb') as f:
        data = f.read()
    try:
        # latin1: Caffe2-era files are Python 2 pickles whose array bytes are ``str``.
        return _arrays_to_tensors(_NumpyOnlyUnpickler(io.BytesIO(data), encoding='latin1').load())
    except pickle.UnpicklingError as err:
        if 'is not allowed' in str(err):
            raise UnsafeCheckpointError(
                f'Refused to load {path}: it is not plain array data, and unpickling it could run '
                f'code ({err}).') from err
        raise _corrupt(path, err) from err
    except Exception as err:  # noqa: BLE001  (a damaged pickle fails in many ways)
        raise _corrupt(path, err) from err


# ----------------------------------------------------------------------------- reading
def _corrupt(path: str, err: BaseException, detail: str | None = None) -> CheckpointFileError:
    # the first sentence of the reader's message ('...failed finding central directory')
    if detail is None:
        detail = str(err).splitlines()[0].split('. ')[0].rstrip('.') if str(err) else \
            type(err).__name__
    return CheckpointFileError(
        f'{path} ({osp.getsize(path)} bytes) is truncated or corrupt: {detail}. Was the '
        'download or copy interrupted? Download it again.')


def _load_safetensors(path: str) -> dict:
    from safetensors.torch import load_file as load_safetensors
    try:
        return load_safetensors(path, device='cpu')
    except Exception as err:  # noqa: BLE001  (SafetensorError, header JSON errors, ...)
        raise _corrupt(path, err) from err


def _load_torch(path: str, head: bytes):
    if not head.startswith((b'PK\x03\x04', b'\x80')):  # zip archive or legacy pickle
        raise CheckpointFileError(
            f'{path} is not a PyTorch checkpoint: it starts with {head[:16]!r} (a text or HTML '
            'page instead of the file?). Expected a torch.save() file, .safetensors or .pkl.')
    try:
        with allow_safe_globals():
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        # torch wraps the reader's complaint: '... WeightsUnpickler error: Unsupported global: ...'
        detail = str(err).split('WeightsUnpickler error:')[-1].strip().splitlines()[0]
        if not re.search(r'Unsupported global|not allowed|unrecognized function|Can only',
                         detail):
            raise _corrupt(path, err, detail) from err
        raise UnsafeCheckpointError(
            f'Refused to load {path}: it is not plain tensor data, and unpickling it could run '
            f'code ({detail}). If you trust the file, re-save its weights '
            "once with torch.save(torch.load(path, weights_only=False)['state_dict'], new_path) "
            'and load new_path.') from err
    except (RuntimeError, EOFError, ValueError, IndexError, KeyError) as err:
        raise _corrupt(path, err) from err


def load_file(name: str):
    """Load a checkpoint without running code from it. Returns what the file holds.

    Raises:
        CheckpointFileError: The file is a folder, empty, not a checkpoint, truncated or
            corrupt (:class:`CheckpointNotFoundError` when it does not exist,
            :class:`UnsafeCheckpointError` when loading it would run code).
    """
    path = resolve_checkpoint(name)
    if osp.getsize(path) == 0:
        raise CheckpointFileError(f'{path} is empty (0 bytes): an interrupted download or copy? '
                                  'Download it again.')
    if path.endswith('.safetensors'):
        return _load_safetensors(path)
    if path.endswith('.pkl'):
        return _load_pkl(path)
    with open(path, 'rb') as f:
        head = f.read(64)
    return _load_torch(path, head)


def extract_state_dict(checkpoint: dict) -> dict:
    """The weights inside a checkpoint: ``state_dict`` (OpenMMLab), ``model`` (detectron2,
    timm train), ``module``, ``blobs`` (Caffe2 Detectron), or the dict itself (torchvision,
    timm); ``module.`` removed."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'a checkpoint must hold a dict, got {type(checkpoint).__name__}.')
    for key in ('state_dict', 'model', 'module', 'blobs'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def read_state_dict(name: str) -> dict:
    """The weights of a checkpoint file (:func:`load_file` + :func:`extract_state_dict`).

    Raises:
        CheckpointFileError: As :func:`load_file`, and when the file holds no tensors.
    """
    content = load_file(name)
    if not isinstance(content, dict):
        raise CheckpointFileError(f'checkpoint={name!r} holds a {type(content).__name__}, not '
                                  'a dict of weights.')
    state_dict = extract_state_dict(content)
    if not state_dict:
        raise CheckpointFileError(f'checkpoint={name!r} holds no weights (no tensors under '
                                  f'state_dict/model/module/blobs or at the top level); its '
                                  f'keys: {sorted(map(str, content))[:10]}.')
    return state_dict


# ----------------------------------------------------------------------------- mmengine
def _register_with_mmengine() -> None:
    """``mmbackbones://`` names also work in mmengine's ``CheckpointLoader`` (``load_from``,
    ``init_cfg`` of non-mmbackbones modules), read by :func:`load_file`."""
    from mmengine.runner import CheckpointLoader

    def load_from_mmbackbones(filename: str, map_location=None):
        return load_file(filename)

    CheckpointLoader.register_scheme(prefixes=hub.SCHEME, loader=load_from_mmbackbones,
                                     force=True)


_register_with_mmengine()
