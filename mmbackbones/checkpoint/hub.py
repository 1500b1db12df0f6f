"""Published checkpoints: names, hash-checked downloads, and the preprocessing they need.

A checkpoint name is a path, a URL, or a model-zoo name:

* ``mmbackbones://resnet50.tv_in1k`` (or ``mmbackbones://resnet50``, the variant's default): an
  entry of ``configs/<family>/metafile.yml``
  (:class:`~mmbackbones.checkpoint.catalogue.WeightsEntry`);
* ``torchvision://resnet50`` (and the deprecated ``modelzoo://``), ``open-mmlab://`` /
  ``openmmlab://`` (deprecated names mapped as mmengine maps them, with a warning; entries that
  name a file are read from mmengine's home) and ``mmcls://``: resolved with mmengine's tables,
  as ``mmengine.runner.CheckpointLoader`` resolves them.

Downloads go to torch hub's cache (``$TORCH_HOME/hub/checkpoints``, what
``torch.hub.load_state_dict_from_url`` uses), so a pre-filled cache works offline. A file is
fetched under a temporary name, its SHA-256 checked (the entry's, or the prefix in the file name,
torch hub's convention) and only then renamed into place: an interrupted or wrong download never
becomes a cache entry. A file found at a cached name (put there by hand, by torchvision or timm)
is checked once before its first use; a stamp beside it (``<file>.sha256.json``: its size,
``mtime_ns`` and verified SHA-256) spares later starts the hashing while the file keeps its size
and modification time. A wrong cached file is removed and downloaded again. One process downloads
or checks a file at a time (a file lock), and under ``torch.distributed`` rank 0 does it while
the other ranks wait at a barrier.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import os.path as osp
import re
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlparse

import torch

from ..utils.fileio import FileWriteError, atomic_write_path
from .catalogue import WeightsEntry, load_weights, weights_entry
from .errors import CheckpointFileError, CheckpointNotFoundError, ChecksumError

__all__ = ['ChecksumError', 'WeightsEntry', 'cache_dir', 'data_preprocessor', 'download',
           'init_cfg', 'list_pretrained', 'resolve', 'resolve_url', 'weights_entry']

#: ``<name>-<hex>.<ext>``: the hash prefix torch hub and OpenMMLab put in file names.
HASH_IN_NAME = re.compile(r'-([a-f0-9]{8,64})\.')
SCHEME = 'mmbackbones://'
#: What the stamp of a checked cached file is called: ``<file><STAMP_SUFFIX>``.
STAMP_SUFFIX = '.sha256.json'
_CHUNK = 1 << 20


def cache_dir() -> str:
    """Where downloads are kept: ``<torch.hub.get_dir()>/checkpoints`` (``$TORCH_HOME/hub/...``).

    Example:
        >>> cache_dir().endswith(osp.join('hub', 'checkpoints'))
        True
    """
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def list_pretrained(pattern: str = '*') -> list[str]:
    """Names of the published checkpoints (``'resnet50.tv_in1k'``) matching a shell pattern.

    Example:
        >>> list_pretrained('resnet50.*')
        ['resnet50.a1_in1k', 'resnet50.mm_in1k', 'resnet50.tv2_in1k', 'resnet50.tv_in1k']
    """
    return sorted(n for n in load_weights() if fnmatch.fnmatch(n, pattern))


def data_preprocessor(name: str, kind: str = 'mmpretrain.ClsDataPreprocessor',
                      **kwargs) -> dict:
    """The ``data_preprocessor`` of a config for the weights ``name`` (``'resnet50.tv_in1k'``,
    or a variant for its default weights): their mean, std and channel order.

    Args:
        name: A weights name, a variant, or ``mmbackbones://<name>``.
        kind: ``'mmpretrain.ClsDataPreprocessor'``, ``'mmdet.DetDataPreprocessor'``,
            ``'mmseg.SegDataPreProcessor'``, ...
        **kwargs: Further keys (``pad_size_divisor=32``).

    Example:
        >>> data_preprocessor('googlenet_tv', 'mmdet.DetDataPreprocessor')['std']
        [127.5, 127.5, 127.5]
    """
    return weights_entry(_strip(name)).data_preprocessor(kind, **kwargs)


def init_cfg(name: str) -> dict:
    """``init_cfg`` that loads the weights ``name`` into one of our backbones.

    Example:
        >>> init_cfg('resnet50')
        {'type': 'Pretrained', 'checkpoint': 'mmbackbones://resnet50.tv_in1k'}
    """
    return dict(type='Pretrained', checkpoint=SCHEME + weights_entry(_strip(name)).name)


def _strip(name: str) -> str:
    return name[len(SCHEME):] if name.startswith(SCHEME) else name


# ----------------------------------------------------------------------------- names
def resolve_url(name: str) -> tuple[str, str | None] | None:
    """``(url or local file, expected sha256 or None)`` of a model-zoo name or URL; ``None`` for
    anything else (a local path).

    Raises:
        KeyError: An unknown name of a known scheme; the message lists some known names.
    """
    name = str(name)
    if name.startswith(SCHEME):
        entry = weights_entry(_strip(name))
        return entry.url, entry.sha256
    if name.startswith(('torchvision://', 'modelzoo://')):
        key = name.split('://', 1)[1]
        if name.startswith('modelzoo://'):
            _warn(f'The URL scheme "modelzoo://" is deprecated; use "torchvision://{key}".')
        return _lookup(name, key, _torchvision_urls()), None
    if name.startswith(('open-mmlab://', 'openmmlab://')):
        from mmengine.runner.checkpoint import (
            _get_mmengine_home,
            get_deprecated_model_names,
            get_external_models,
        )
        prefix, key = name.split('://', 1)
        deprecated = get_deprecated_model_names()
        if key in deprecated:
            _warn(f'{prefix}://{key} is deprecated in favor of {prefix}://{deprecated[key]}')
            key = deprecated[key]
        url = _lookup(name, key, get_external_models())
        if not url.startswith(('http://', 'https://')):
            url = osp.join(_get_mmengine_home(), url)  # mmengine: a file in its home
        return url, None
    if name.startswith('mmcls://'):
        from mmengine.runner.checkpoint import get_mmcls_models
        return _lookup(name, name[len('mmcls://'):], get_mmcls_models()), None
    if name.startswith(('http://', 'https://')):
        return name, None
    return None


def _lookup(name: str, key: str, urls: dict) -> str:
    if key not in urls:
        raise KeyError(f'checkpoint={name!r}: unknown model name {key!r}; known: '
                       f'{sorted(urls)[:20]}...')
    return urls[key]


def _torchvision_urls() -> dict:
    from mmengine.runner import checkpoint as mmckpt
    try:
        return mmckpt.get_torchvision_models()
    except ImportError:  # no torchvision: the table mmengine ships for the classic names
        import mmengine
        return mmengine.load(osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))


def _warn(message: str) -> None:
    from mmengine.logging import print_log
    print_log(message, logger='current', level=logging.WARNING)


# ----------------------------------------------------------------------------- downloads
def expected_hash(url: str, sha256: str | None = None) -> str | None:
    """The SHA-256 (or prefix) a download must have: ``sha256``, else the one in the file name."""
    if sha256:
        return sha256.lower()
    match = HASH_IN_NAME.search(osp.basename(urlparse(url).path))
    return match.group(1) if match else None


def download(url: str, sha256: str | None = None, progress: bool = True,
             name: str | None = None) -> str:
    """The cached file of ``url``, checked, and downloaded first when it is not cached.

    A file already at the cached name is checked against the hash once, before its first use,
    and stamped (``<file>.sha256.json``); later calls read the stamp instead of hashing the file
    again, as long as the file keeps the size and ``mtime_ns`` the stamp records. A file whose
    URL has no known hash (neither ``sha256`` nor one in the file name) is used as it is, never
    checked or stamped. In a cache folder this process cannot write (a shared, read-only one) a
    file is checked on every call, and a wrong one is refused but left there.

    Args:
        url: An ``http(s)://`` URL.
        sha256: The file's SHA-256 or a prefix of it; default: the hash prefix in the file name
            (``resnet50-0676ba61.pth``). Without either, the file is not checked.
        progress: Show a progress bar (on a terminal).
        name: What the user asked for, for messages (``'torchvision://resnet50'``).

    Returns:
        The path in :func:`cache_dir`.

    Raises:
        ChecksumError: The download's hash is not ``sha256`` (the file is deleted); or the
            cached file's hash is not (the file is deleted) and downloading it again failed: the
            message names the file, both hashes, why the download failed and where to put the
            right file.
        CheckpointNotFoundError: The download failed (the message says where to put the file
            by hand).

    Example:
        >>> download('https://download.pytorch.org/models/resnet18-f37072fd.pth')  # doctest: +SKIP
        '/root/.cache/torch/hub/checkpoints/resnet18-f37072fd.pth'
    """
    cached = osp.join(cache_dir(), osp.basename(urlparse(url).path))
    expected = expected_hash(url, sha256)
    name = name or url
    rank, world = _dist_info()
    if world == 1:
        _ensure_cached(url, cached, expected, progress, name)
        return cached
    # Every rank meets at the barrier, cached or not (as mmengine's load_from_http does), so a
    # rank that finds the file cannot leave another waiting.
    error: BaseException | None = None
    if rank == 0:
        try:
            _ensure_cached(url, cached, expected, progress, name)
        except BaseException as err:  # noqa: BLE001  (re-raised after the barrier)
            error = err
    torch.distributed.barrier()
    if error is not None:
        raise error
    # Rank 0's stamp makes this a stat and a small read; a rank of another machine, which does
    # not see rank 0's cache, checks or downloads its own.
    _ensure_cached(url, cached, expected, progress, name)
    return cached


def _dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    from filelock import FileLock
    os.makedirs(osp.dirname(path), exist_ok=True)
    with FileLock(path + '.lock'):
        yield


def _ensure_cached(url: str, cached: str, expected: str | None, progress: bool,
                   name: str) -> None:
    """Leave a checked ``cached`` file: the one there when its hash (stamped, or computed now) is
    ``expected``, else a new download."""
    if osp.isfile(cached) and (expected is None or _matches(_stamped_digest(cached), expected)):
        return  # the common case: no lock, no hashing
    if osp.isfile(cached) and not os.access(osp.dirname(cached), os.W_OK):
        digest = _sha256_file(cached)  # a read-only cache: no stamp can be kept
        if not digest.startswith(expected):
            raise ChecksumError(f'{_wrong_cached_file(name, cached, digest, expected)} The '
                                f'folder is read-only, so the file was left there: replace it '
                                f'with {url}, or point $TORCH_HOME at a writable folder.')
        return
    with _file_lock(cached):
        wrong = None
        if osp.isfile(cached):  # unchecked, or another process finished while we waited
            if expected is None:
                return
            digest = _stamped_digest(cached) or _hash_and_stamp(cached, expected)
            if digest.startswith(expected):
                return
            wrong = _wrong_cached_file(name, cached, digest, expected) + ' It was removed.'
            _remove_cached(cached)
        try:
            digest = _download(url, cached, expected, progress, name)
        except CheckpointFileError as err:
            if wrong is None:
                raise
            raise ChecksumError(f'{wrong} Downloading it again failed: {err}') from err
        if expected is not None:
            _write_stamp(cached, digest, os.stat(cached))
        if wrong is not None:
            _warn(f'{wrong} It was downloaded again from {url}.')


def _matches(digest: str | None, expected: str) -> bool:
    return digest is not None and digest.startswith(expected)


def _wrong_cached_file(name: str, cached: str, digest: str, expected: str) -> str:
    return (f'checkpoint={name!r}: the cached file {cached} has sha256 {digest}, not the '
            f'published {expected}.')


def _remove_cached(cached: str) -> None:
    for path in (cached, cached + STAMP_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _stamped_digest(path: str) -> str | None:
    """The SHA-256 in ``path``'s stamp when the stamp was taken of the file as it is now (the
    same size and ``mtime_ns``); ``None`` without a stamp, or with a stale or unreadable one."""
    try:
        stat = os.stat(path)
        with open(path + STAMP_SUFFIX) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return None
    fresh = isinstance(stamp, dict) and stamp.get('size') == stat.st_size and \
        stamp.get('mtime_ns') == stat.st_mtime_ns and isinstance(stamp.get('sha256'), str)
    return stamp['sha256'] if fresh else None


def _hash_and_stamp(path: str, expected: str) -> str:
    """``path``'s SHA-256, stamped when it is ``expected``. The stat the stamp records is taken
    before hashing: a file changed while it was hashed no longer matches its stamp."""
    stat = os.stat(path)
    digest = _sha256_file(path)
    if digest.startswith(expected):
        _write_stamp(path, digest, stat)
    return digest


def _write_stamp(path: str, digest: str, stat: os.stat_result) -> None:
    """Record that ``path``, as ``stat`` saw it, has the SHA-256 ``digest`` (written atomically).

    A stamp that cannot be written (a full disk) costs only the hashing next time, so it is a
    warning."""
    stamp = dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=digest)
    try:
        with atomic_write_path(path + STAMP_SUFFIX) as tmp, open(tmp, 'w') as f:
            json.dump(stamp, f)
    except FileWriteError as err:
        _warn(f'{path} is checked (sha256 {digest}) but its stamp was not written, so it will '
              f'be hashed again next time: {err}')


def _sha256_file(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _download(url: str, cached: str, expected: str | None, progress: bool, name: str) -> str:
    """Download ``url`` to ``cached`` (the caller holds the lock); return its SHA-256."""
    fetch_error = None  # the writer reports any OSError as its own; the message names this one
    try:
        with atomic_write_path(cached) as tmp:
            try:
                digest = _fetch(url, tmp, progress)
            except Exception as err:  # noqa: BLE001  (URLError, timeouts, cut connections, ...)
                fetch_error = err
                raise
            if expected and not digest.startswith(expected):
                raise ChecksumError(
                    f'checkpoint={name!r}: the download of {url} has sha256 {digest}, '
                    f'expected {expected}; {osp.basename(cached)} was not kept in '
                    f'{osp.dirname(cached)}. Download it again, or check the URL.')
    except CheckpointFileError:
        raise
    except Exception as err:  # noqa: BLE001  (the fetch's error, or the writer's)
        cause = fetch_error or err
        raise CheckpointNotFoundError(
            f'checkpoint={name!r}: could not download {url} ({cause}). Without network, put '
            f'the file at {cached} or pass a local path.') from cause
    return digest


def _fetch(url: str, dst: str, progress: bool) -> str:
    """Stream ``url`` into ``dst``; return the SHA-256. A short read is an error."""
    request = urllib.request.Request(url, headers={'User-Agent': 'mmbackbones'})
    sha = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=60) as response, open(dst, 'wb') as f:
        total = response.headers.get('Content-Length')
        total = int(total) if total is not None else None
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024,
                       desc=osp.basename(dst).split('.tmp')[0], disable=None, leave=False)
        size = 0
        try:
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                sha.update(chunk)
                size += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    if total is not None and size != total:
        raise OSError(f'connection closed after {size} of {total} bytes')
    return sha.hexdigest()


def resolve(name: str) -> str | None:
    """The local file of a model-zoo name or URL (downloaded if needed); ``None`` for a path."""
    found = resolve_url(name)
    if found is None:
        return None
    url, sha256 = found
    if not url.startswith(('http://', 'https://')):
        if not osp.isfile(url):
            raise CheckpointNotFoundError(f'checkpoint={name!r}: {url} can not be found.')
        return url
    return download(url, sha256, name=name)
