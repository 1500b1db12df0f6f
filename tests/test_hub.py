"""Published weights as data (metafile entries) and their downloads (:mod:`mmbackbones.hub`).

Downloads are served by a loopback HTTP server the test starts (127.0.0.1, a free port) from
checkpoints the test writes: a good file, one whose name carries the wrong hash, one whose
connection is cut halfway, and one that two processes (two gloo ranks, or two plain processes)
ask for at once. ``TORCH_HOME`` points at a temporary folder, so the cache starts empty; tests of
a pre-filled cache put files there themselves, right or wrong ones, and count the hashing.
"""
from __future__ import annotations

import collections
import hashlib
import http.server
import io
import json
import os
import os.path as osp
import re
import socket
import threading
import time

import pytest
import torch
import torch.multiprocessing as mp

from mmbackbones import build_model, hub
from mmbackbones.checkpoint import LAYOUTS, CheckpointNotFoundError, read_state_dict
from mmbackbones.checkpoint.catalogue import load_weights, weights_entry

from conftest import prefill_hub_cache, registered_backbones, tool


class _Server:
    """Serves ``files`` (path -> bytes); ``cut`` paths stop after half their bytes; ``hits``
    counts requests per path; ``delay`` seconds pass before each body."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut: set[str] = set()
        self.hits: collections.Counter = collections.Counter()
        self.delay = 0.0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                server.hits[self.path] += 1
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                time.sleep(server.delay)
                self.wfile.write(data[:len(data) // 2] if self.path in server.cut else data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.httpd.server_address[1]}{path}'

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    return hub.cache_dir()


def _checkpoint(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    torch.save({'w': torch.randn(64, generator=torch.Generator().manual_seed(seed))}, buffer)
    return buffer.getvalue()


def _serve(server: _Server, stem: str, data: bytes, prefix: str | None = None) -> str:
    """Serve ``data`` as ``/<stem>-<hash prefix>.pth``; return its URL."""
    prefix = prefix or hashlib.sha256(data).hexdigest()[:8]
    path = f'/{stem}-{prefix}.pth'
    server.files[path] = data
    return server.url(path)


def _cache_files(cache: str) -> list[str]:
    return sorted(n for n in os.listdir(cache) if not n.endswith('.lock')) \
        if osp.isdir(cache) else []


def _checked(filename: str) -> list[str]:
    """What the cache holds for one checked file: the file and its stamp."""
    return [filename, filename + hub.STAMP_SUFFIX]


# ----------------------------------------------------------------------------- downloads
def test_good_file_is_downloaded_once_and_checked(server, cache):
    data = _checkpoint()
    url = _serve(server, 'good', data)
    path = hub.download(url, progress=False)
    assert path == osp.join(cache, osp.basename(url))
    with open(path, 'rb') as f:
        assert f.read() == data
    assert hub.download(url, progress=False) == path  # from the cache now
    assert sum(server.hits.values()) == 1
    assert torch.equal(read_state_dict(url)['w'], torch.load(path)['w'])  # io uses the hub
    assert _cache_files(cache) == _checked(osp.basename(url))


def test_wrong_hash_is_refused_and_not_kept(server, cache):
    data = _checkpoint()
    url = _serve(server, 'tampered', data, prefix='deadbeef')
    with pytest.raises(hub.ChecksumError) as err:
        hub.download(url, progress=False)
    message = str(err.value)
    assert 'tampered-deadbeef.pth' in message and 'expected deadbeef' in message
    assert hashlib.sha256(data).hexdigest() in message
    assert _cache_files(cache) == []  # neither the file nor a temporary one
    # an explicit sha256 wins over the name's, and is checked as well
    good = _serve(server, 'named', data)
    with pytest.raises(hub.ChecksumError, match='expected 0000'):
        hub.download(good, sha256='0000' * 16, progress=False)
    assert _cache_files(cache) == []


def test_cut_connection_leaves_nothing_a_later_run_takes(server, cache):
    data = _checkpoint()
    url = _serve(server, 'cut', data)
    server.cut.add(urlpath := '/' + osp.basename(url))
    with pytest.raises(CheckpointNotFoundError, match='could not download') as err:
        hub.download(url, progress=False)
    assert osp.join(cache, osp.basename(url)) in str(err.value)  # says where to put it
    assert _cache_files(cache) == []
    server.cut.discard(urlpath)
    with open(hub.download(url, progress=False), 'rb') as f:
        assert f.read() == data
    assert server.hits[urlpath] == 2


def test_unhashed_url_is_downloaded_unchecked(server, cache):
    server.files['/plain.pth'] = data = _checkpoint()
    with open(hub.download(server.url('/plain.pth'), progress=False), 'rb') as f:
        assert f.read() == data


def test_prefilled_cache_works_offline(cache, monkeypatch):
    """torchvision://, the deprecated modelzoo:// and mmbackbones:// names need no network when
    torch hub's cache holds the file (the URL's host is never contacted)."""
    def no_network(*args, **kwargs):
        raise AssertionError('tried the network')
    monkeypatch.setattr(hub, '_fetch', no_network)
    path = prefill_hub_cache('torchvision://resnet18', {'w': torch.ones(2)})
    assert path == osp.join(cache, 'resnet18-f37072fd.pth')
    for name in ('torchvision://resnet18', 'modelzoo://resnet18', 'mmbackbones://resnet18',
                 'mmbackbones://resnet18.tv_in1k'):
        assert hub.resolve(name) == path, name
    assert torch.equal(read_state_dict('torchvision://resnet18')['w'], torch.ones(2))


# ----------------------------------------------------------------------------- a pre-filled cache
@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The files the hub hashes from the cache (downloads are hashed as they stream, not here)."""
    calls = []
    sha256_file = hub._sha256_file

    def counting(path: str) -> str:
        calls.append(path)
        return sha256_file(path)

    monkeypatch.setattr(hub, '_sha256_file', counting)
    return calls


def _prefill(cache: str, url: str, data: bytes) -> str:
    path = osp.join(cache, osp.basename(url))
    os.makedirs(cache, exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _stamp(path: str) -> dict:
    with open(path + hub.STAMP_SUFFIX) as f:
        return json.load(f)


def test_prefilled_file_is_checked_once_then_stamped(server, cache, hashed):
    data = _checkpoint()
    url = _serve(server, 'prefilled', data)
    path = _prefill(cache, url, data)
    assert hub.download(url, progress=False) == path
    assert hashed == [path]
    stat = os.stat(path)
    assert _stamp(path) == dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                sha256=hashlib.sha256(data).hexdigest())
    assert _cache_files(cache) == _checked(osp.basename(url))
    # later starts read the stamp, whichever form of the hash they are given
    assert hub.download(url, progress=False) == path
    assert hub.download(url, sha256=hashlib.sha256(data).hexdigest(), progress=False) == path
    assert torch.equal(read_state_dict(url)['w'], torch.load(path)['w'])
    assert hashed == [path]
    assert sum(server.hits.values()) == 0  # never downloaded


def test_prefilled_file_without_a_known_hash_is_used_as_it_is(server, cache, hashed):
    url = server.url('/plain.pth')
    path = _prefill(cache, url, b'not even a checkpoint')
    assert hub.download(url, progress=False) == path
    assert hashed == [] and _cache_files(cache) == ['plain.pth']
    assert sum(server.hits.values()) == 0


def test_wrong_prefilled_file_is_removed_and_downloaded_again(server, cache, hashed,
                                                              monkeypatch):
    data = _checkpoint()
    url = _serve(server, 'replaced', data)
    wrong = _checkpoint(seed=1)
    path = _prefill(cache, url, wrong)
    warned = []
    monkeypatch.setattr(hub, '_warn', warned.append)
    assert hub.download(url, progress=False) == path
    with open(path, 'rb') as f:
        assert f.read() == data
    assert hashed == [path] and server.hits['/' + osp.basename(url)] == 1
    assert _stamp(path)['sha256'] == hashlib.sha256(data).hexdigest()
    assert _cache_files(cache) == _checked(osp.basename(url))
    [message] = warned
    assert path in message and hashlib.sha256(wrong).hexdigest() in message
    assert f'not the published {hub.expected_hash(url)}' in message
    assert 'removed' in message and 'downloaded again' in message


def test_wrong_prefilled_file_offline_is_refused_saying_where_to_put_it(server, cache, hashed):
    data = _checkpoint()
    url = _serve(server, 'offline', data)
    wrong = _checkpoint(seed=1)
    path = _prefill(cache, url, wrong)
    server.close()  # the network is down
    with pytest.raises(hub.ChecksumError) as err:
        hub.download(url, progress=False)
    message = str(err.value)
    assert f'the cached file {path} has sha256 {hashlib.sha256(wrong).hexdigest()}' in message
    assert f'not the published {hub.expected_hash(url)}' in message
    assert 'It was removed. Downloading it again failed' in message
    assert f'could not download {url}' in message and f'put the file at {path}' in message
    assert isinstance(err.value.__cause__, CheckpointNotFoundError)
    assert _cache_files(cache) == []  # neither the wrong file nor a stamp


def test_stale_stamp_is_checked_again(server, cache, hashed, monkeypatch):
    """A stamp names the size and mtime of the file it checked: a file touched since is hashed
    again (and stamped again when right), one replaced since is refused and downloaded again."""
    data = _checkpoint()
    url = _serve(server, 'stale', data)
    path = _prefill(cache, url, data)
    hub.download(url, progress=False)
    stamped = _stamp(path)
    os.utime(path, ns=(stamped['mtime_ns'], stamped['mtime_ns'] + 10**9))  # touched
    assert hub.download(url, progress=False) == path
    assert hashed == [path, path] and sum(server.hits.values()) == 0
    assert _stamp(path) == dict(stamped, mtime_ns=stamped['mtime_ns'] + 10**9)
    hub.download(url, progress=False)
    assert len(hashed) == 2  # fresh again

    wrong = _checkpoint(seed=1)
    assert len(wrong) == len(data)
    _prefill(cache, url, wrong)  # the same size; an mtime of its own, whatever the clock
    os.utime(path, ns=(stamped['mtime_ns'], stamped['mtime_ns'] + 2 * 10**9))
    monkeypatch.setattr(hub, '_warn', lambda message: None)
    assert hub.download(url, progress=False) == path
    with open(path, 'rb') as f:
        assert f.read() == data
    assert len(hashed) == 3 and server.hits['/' + osp.basename(url)] == 1
    assert _stamp(path)['sha256'] == hashlib.sha256(data).hexdigest()


def test_read_only_cache_is_checked_every_time_and_never_changed(server, cache, hashed,
                                                                 monkeypatch):
    """A shared cache this process cannot write: no lock, no stamp; a wrong file is refused and
    left where it is."""
    data = _checkpoint()
    url = _serve(server, 'shared', data)
    path = _prefill(cache, url, data)
    access = os.access
    monkeypatch.setattr(os, 'access', lambda p, mode: mode != os.W_OK and access(p, mode))
    assert hub.download(url, progress=False) == hub.download(url, progress=False) == path
    assert hashed == [path, path] and _cache_files(cache) == [osp.basename(url)]
    wrong = _checkpoint(seed=1)
    _prefill(cache, url, wrong)
    with pytest.raises(hub.ChecksumError, match='read-only, so the file was left there') as err:
        hub.download(url, progress=False)
    assert hashlib.sha256(wrong).hexdigest() in str(err.value) and path in str(err.value)
    assert sum(server.hits.values()) == 0 and _cache_files(cache) == [osp.basename(url)]


def test_names_resolve_as_mmengine_resolves_them(tmp_path, monkeypatch):
    from mmengine.runner import checkpoint as mmckpt
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mmengine'))
    deprecated = mmckpt.get_deprecated_model_names()
    external = mmckpt.get_external_models()
    old, new = 'resnet50_caffe', deprecated['resnet50_caffe']
    for prefix in ('open-mmlab://', 'openmmlab://'):
        assert hub.resolve_url(prefix + old) == (external[new], None)
        assert hub.resolve_url(prefix + new) == (external[new], None)
    assert hub.resolve_url('torchvision://resnet50')[0] == \
        mmckpt.get_torchvision_models()['resnet50'] == weights_entry('resnet50').url
    assert hub.resolve_url('mmcls://resnet50')[0] == mmckpt.get_mmcls_models()['resnet50']
    # an entry of $MMENGINE_HOME/open_mmlab.json that names a file is read from that home
    home = tmp_path / 'mmengine'  # mmengine made it
    (home / 'open_mmlab.json').write_text(json.dumps({'mine': 'weights/mine.pth'}))
    assert hub.resolve_url('open-mmlab://mine')[0] == str(home / 'weights' / 'mine.pth')
    with pytest.raises(CheckpointNotFoundError, match='can not be found'):
        hub.resolve('open-mmlab://mine')
    with pytest.raises(KeyError, match="unknown model name 'no_such_model'"):
        hub.resolve_url('torchvision://no_such_model')
    assert hub.resolve_url('/some/local/file.pth') is None


# ----------------------------------------------------------------------------- two processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _download_worker(rank: int, url: str, out_dir: str, port: int | None) -> None:
    torch.set_num_threads(1)
    if port is not None:
        torch.distributed.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                                             rank=rank, world_size=2)
    try:
        path = hub.download(url, progress=False)
        with open(osp.join(out_dir, f'rank{rank}.txt'), 'w') as f:
            f.write(path)
    finally:
        if port is not None:
            torch.distributed.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize('ddp', [True, False], ids=['two_gloo_ranks', 'two_processes'])
def test_two_processes_download_once(server, cache, tmp_path, ddp):
    """Under DDP rank 0 downloads while rank 1 waits at the barrier; without DDP the file lock
    makes the second process wait and take the first one's file. The server is slow (1 s before
    the body), so the two would otherwise overlap."""
    data = _checkpoint(1)
    url = _serve(server, 'shared', data)
    server.delay = 1.0
    out = tmp_path / 'out'
    out.mkdir()
    mp.spawn(_download_worker, args=(url, str(out), _free_port() if ddp else None), nprocs=2,
             join=True)
    paths = {(out / f'rank{r}.txt').read_text() for r in range(2)}
    assert paths == {osp.join(cache, osp.basename(url))}
    assert server.hits['/' + osp.basename(url)] == 1
    with open(paths.pop(), 'rb') as f:
        assert f.read() == data
    assert _cache_files(cache) == _checked(osp.basename(url))
    if ddp:  # cached now: every rank still meets the others at the barrier, none downloads
        mp.spawn(_download_worker, args=(url, str(out), _free_port()), nprocs=2, join=True)
        assert server.hits['/' + osp.basename(url)] == 1


@pytest.mark.slow
def test_two_processes_replace_a_wrong_cached_file_once(server, cache, tmp_path):
    """Two processes find the same wrong, unstamped file: the first to take the lock removes it
    and downloads the right one; the other waits and takes that one, stamped."""
    data = _checkpoint(1)
    url = _serve(server, 'wrong_shared', data)
    path = _prefill(cache, url, _checkpoint(2))
    server.delay = 1.0
    out = tmp_path / 'out'
    out.mkdir()
    mp.spawn(_download_worker, args=(url, str(out), None), nprocs=2, join=True)
    assert {(out / f'rank{r}.txt').read_text() for r in range(2)} == {path}
    assert server.hits['/' + osp.basename(url)] == 1
    with open(path, 'rb') as f:
        assert f.read() == data
    assert _cache_files(cache) == _checked(osp.basename(url))


# ----------------------------------------------------------------------------- weights as data
def test_every_weights_entry_is_complete():
    weights = load_weights()
    assert len(weights) >= 40
    variants = set(registered_backbones())
    for name, entry in weights.items():
        assert name == f'{entry.variant}.{entry.tag}' and entry.variant in variants, name
        assert entry.url.startswith('https://'), name
        assert re.fullmatch(r'[a-f0-9]{8,64}', entry.sha256), name
        assert hub.expected_hash(entry.url) in (None, entry.sha256[:8]), name  # name agrees
        assert entry.layout in {layout.name for layout in LAYOUTS}, (name, entry.layout)
        assert len(entry.mean) == len(entry.std) == 3 and entry.channel_order in ('RGB', 'BGR')
        assert len(entry.input_size) == 2 and entry.license and entry.source, name
        assert 0 < entry.metrics['Top 1 Accuracy'] < 100, name
    defaults = collections.Counter(e.variant for e in weights.values() if e.default)
    assert set(defaults.values()) == {1}
    assert weights_entry('resnet50').name == 'resnet50.tv_in1k'
    assert weights_entry('resnet50').url == 'https://download.pytorch.org/models/resnet50-0676ba61.pth'


def test_lookup_errors_name_what_exists():
    with pytest.raises(KeyError, match=r"no weights 'resnet50.nope'; resnet50 has: \["):
        weights_entry('resnet50.nope')
    with pytest.raises(KeyError, match="no published weights for 'fpn_r50'"):
        weights_entry('fpn_r50')


def test_preprocessing_and_init_cfg_come_from_the_entry():
    assert hub.init_cfg('resnet50') == dict(type='Pretrained',
                                            checkpoint='mmbackbones://resnet50.tv_in1k')
    det = hub.data_preprocessor('mmbackbones://resnet50.tv_in1k', 'mmdet.DetDataPreprocessor',
                                pad_size_divisor=32)
    assert det == dict(type='mmdet.DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                       std=[58.395, 57.12, 57.375], to_rgb=True, pad_size_divisor=32)
    # torchvision's GoogLeNet weights were trained on [-1, 1] inputs
    assert hub.data_preprocessor('googlenet_tv')['mean'] == [127.5] * 3
    assert 'resnet50.a1_in1k' in hub.list_pretrained('resnet50.*')


def test_build_model_pretrained_takes_the_entry(cache):
    """``build_model(name, pretrained=True)`` loads the entry's file (here a torchvision ResNet-18
    the test saves where the download would go)."""
    import torchvision
    theirs = torchvision.models.resnet18()
    prefill_hub_cache('torchvision://resnet18', theirs.state_dict())
    for name in ('resnet18', 'resnet18.tv_in1k'):
        ours = build_model(name, pretrained=True)
        assert torch.equal(ours.layer4[1].conv2.weight, theirs.layer4[1].conv2.weight), name
    assert not torch.equal(build_model('resnet18.tv_in1k').conv1.weight, theirs.conv1.weight)
    with pytest.raises(ValueError, match='Pass one of them'):
        build_model('resnet18', pretrained=True, init_cfg=dict(type='Pretrained', checkpoint='x'))
    with pytest.raises(ValueError, match='needs a registered name'):
        build_model(dict(type='ResNet', depth=18), pretrained=True)
    with pytest.raises(KeyError, match='resnet18 has'):
        build_model('resnet18.nope', pretrained=True)


def test_entry_arguments_reach_the_model(cache, monkeypatch):
    """mmpretrain's Res2Net weights need the original stride-1 pool; the entry says so."""
    entry = weights_entry('res2net50_14w_8s')
    assert entry.arguments == {'stride1_pool': True}
    theirs = build_model('res2net50_14w_8s', stride1_pool=True)
    prefill_hub_cache('mmbackbones://res2net50_14w_8s', {'state_dict': theirs.state_dict()})
    ours = build_model('res2net50_14w_8s', pretrained=True)
    assert ours.stride1_pool and torch.equal(ours.layer4[0].conv3.weight,
                                             theirs.layer4[0].conv3.weight)


def test_mmengine_checkpoint_loader_knows_the_scheme(cache):
    from mmengine.runner import CheckpointLoader
    prefill_hub_cache('mmbackbones://resnet18.tv_in1k', {'w': torch.ones(3)})
    loaded = CheckpointLoader.load_checkpoint('mmbackbones://resnet18.tv_in1k')
    assert torch.equal(loaded['w'], torch.ones(3))


def test_list_models_tool_lists_weights(capsys):
    list_models = tool('misc/list_models.py')
    rows = list_models.list_models('resnet50.', pretrained=True)
    assert [r[0] for r in rows][:4] == ['resnet50.a1_in1k', 'resnet50.mm_in1k',
                                        'resnet50.tv2_in1k', 'resnet50.tv_in1k']
    assert list_models.main(['resnet50.tv', '--pretrained']) == 0
    out = capsys.readouterr().out
    assert '76.13' in out and 'resnet50-0676ba61.pth (default)' in out
