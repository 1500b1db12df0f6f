"""Analysis tools and the clear-error paths of tools/train.py and tools/test.py."""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmbackbones.analysis import measure_complexity
from mmbackbones.checkpoint.catalogue import zoo_entry
from mmbackbones.config import (
    ConfigError,
    build_model_from_cfg,
    check_cfg_options,
    check_dataset_paths,
)
from mmbackbones.registry import MODELS

from conftest import DIGITS_CONFIG as DIGITS
from conftest import ROOT, tool

IN1K = osp.join(ROOT, 'configs', 'resnet', 'resnet50_8xb32_in1k.py')


# ------------------------------------------------------------------ clear errors
@pytest.mark.parametrize('argv, message', [
    (['configs/resnet/resnet18_8xb16_digit.py'], "does not exist. Did you mean"),
    ([DIGITS, '--cfg-options', 'model.backbone.dpeth=34'], "Did you mean 'depth'"),
    ([DIGITS, '--cfg-options', 'train_cfg.max_epoch=1'], "Did you mean 'max_epochs'"),
    ([DIGITS, '--cfg-options', 'modle.backbone.depth=34'], "no key 'modle' at the top level"),
    ([IN1K, '--cfg-options', 'train_dataloader.dataset.data_root=/nonexistent/imagenet'],
     "data_root='/nonexistent/imagenet' does not exist"),
    ([DIGITS, '--resume', '/nonexistent/epoch_1.pth'], 'no such checkpoint file'),
    ([DIGITS, '--cfg-options', 'train_cfg.max_epochs=0'], 'max_epochs=0 must be an int >= 1'),
    ([DIGITS, '--cfg-options', 'train_cfg.max_epochs=1.5'], 'max_epochs=1.5 must be an int'),
])
def test_train_clear_errors(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert tool('train.py').main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and message in err, err
    assert 'Traceback' not in err


def test_cli_error_has_no_traceback():
    out = subprocess.run([sys.executable, 'tools/train.py', 'configs/nope.py'], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: config file 'configs/nope.py' does not exist."]


def test_test_tool_missing_checkpoint(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert tool('test.py').main([DIGITS, 'work_dirs/none/epoch_9.pth']) == 2
    assert "checkpoint 'work_dirs/none/epoch_9.pth' does not exist" in capsys.readouterr().err


def test_cfg_options_accept_new_arguments_of_the_configured_type():
    cfg = Config.fromfile(DIGITS)
    # present keys, new constructor arguments of the typed dict, list indices, runner sections
    check_cfg_options(cfg, {'model.backbone.depth': 34, 'model.backbone.frozen_stages': 1,
                            'model.backbone.norm_eval': True, 'param_scheduler.1.eta_min': 0.0,
                            'train_cfg.val_begin': 2, 'train_dataloader.num_workers': 2,
                            'train_dataloader.persistent_workers': False,
                            'env_cfg.dist_cfg.timeout': 60, 'work_dir': 'w'})
    for bad in ('model.backbone.frozen_stage', 'param_scheduler.7.eta_min',
                'train_dataloader.batch_sise', 'optim_wrapper.optimizer.lr.x'):
        with pytest.raises(ConfigError, match='--cfg-options'):
            check_cfg_options(cfg, {bad: 1})


def test_dataset_paths_checked_but_digits_prepares_itself(tmp_path):
    cfg = Config.fromfile(IN1K)
    with pytest.raises(ConfigError, match=r'train_dataloader\.dataset\.data_root'):
        check_dataset_paths(cfg, ['train_dataloader'])
    cfg = Config.fromfile(DIGITS)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'not-yet')
    check_dataset_paths(cfg, ['train_dataloader'])  # DigitsDataset writes it on first use


# ------------------------------------------------------------------ parameters and FLOPs
# configs/resnet/metafile.yml: torchvision num_params / _ops (conv+linear MACs incl. fc);
# mmpretrain's current get_flops (mmengine FlopAnalyzer on extract_feat): R50 4.109G.
ZOO = {'resnet18_8xb32_in1k.py': 'resnet18', 'resnet50_8xb32_in1k.py': 'resnet50',
       'resnetv1d50_8xb32_in1k.py': 'resnet50_v1d'}


@pytest.mark.parametrize('config', sorted(ZOO))
def test_flops_and_params_match_zoo(config):
    entry = zoo_entry(ZOO[config])
    params, tv_macs = entry.params, entry.flops
    mmengine_macs = entry.metadata.get('FLOPs (mmengine)')
    model = build_model_from_cfg(Config.fromfile(osp.join(ROOT, 'configs', 'resnet', config)))
    result = measure_complexity(model, (1, 3, 224, 224), 'torchvision')
    assert result.params == params
    assert result.macs == pytest.approx(tv_macs, rel=0.01)
    assert [r[0] for r in result.rows] == ['stem', 'layer1', 'layer2', 'layer3', 'layer4',
                                           'neck', 'head']
    assert sum(r[2] for r in result.rows) == result.macs
    assert dict((r[0], r[1]) for r in result.rows)['head'] == \
        model.head.fc.in_features * 1000 + 1000
    if mmengine_macs is not None:
        fv = measure_complexity(model, (1, 3, 224, 224), 'mmengine')
        assert fv.macs == pytest.approx(mmengine_macs, rel=0.01)
        assert dict((r[0], r[2]) for r in fv.rows)['head'] == 0  # extract_feat only


def test_backbone_params_per_stage():
    # configs/resnet/metafile.yml: backbone-only analytic count of ResNet-50
    result = measure_complexity(MODELS.build(dict(type='resnet50')), (1, 3, 224, 224))
    assert result.params == zoo_entry('resnet50').backbone_params == 23_508_032
    assert [r[0] for r in result.rows] == ['stem', 'layer1', 'layer2', 'layer3', 'layer4']
    assert dict((r[0], r[1]) for r in result.rows)['stem'] == 7 * 7 * 3 * 64 + 2 * 64


def test_get_flops_cli(capsys):
    assert tool('analysis_tools/get_flops.py').main(['resnet18', '--shape', '64']) == 0
    out = capsys.readouterr().out
    assert 'layer4' in out and '11,176,512' in out
    assert tool('analysis_tools/get_flops.py').main(['resnet19']) == 2
    assert 'neither a config file nor a registered model' in capsys.readouterr().err


@pytest.mark.parametrize('emulated', [False, True])
def test_cpu_peak_table(emulated, capsys, monkeypatch):
    from mmbackbones.deploy import cpu_has_native_bf16, cpu_has_vnni
    peak = tool('analysis_tools/cpu_peak.py')
    monkeypatch.setattr(peak, 'SHAPES', [('small', 64, 32, 48), ('tall', 256, 64, 16)])
    argv = ['--threads', '1', '--repeats', '1', '--min-time', '0.001']
    assert peak.main(argv + ['--emulated'] * emulated) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('machine: ') and 'threads 1' in lines[0]
    rows = [line.split(' | ') for line in lines[3:5]]
    assert [r[0] for r in rows] == ['| small, 64 x 32 x 48', '| tall, 256 x 64 x 16']
    native = {2: cpu_has_native_bf16(), 3: cpu_has_vnni()}
    for row in rows:
        assert float(row[1].replace(',', '')) > 0, row  # fp32 is always timed
        for col, ratio_col in ((2, 4), (3, 5)):
            ratio = row[ratio_col].rstrip(' |')
            if native[col] or emulated:
                rate = float(row[col].split()[0].replace(',', ''))
                assert rate > 0 and row[col].endswith('(emulated)') == (not native[col]), row
                assert float(ratio[:-1]) == pytest.approx(
                    rate / float(row[1].replace(',', '')), rel=0.02, abs=0.01), row
            else:
                assert row[col] == 'emulated' and ratio == '-', row
    assert (lines[-1].startswith('(emulated: not timed')
            == (not emulated and not (native[2] and native[3])))
    for bad, message in [(['--threads', '0'], '--threads=0'),
                         (['--min-time', '-1'], '--min-time=-1.0')]:
        with pytest.raises(SystemExit):
            peak.main(bad)
        assert message in capsys.readouterr().err


# ------------------------------------------------------------------ listing and feature maps
def test_list_models_filters():
    lister = tool('misc/list_models.py')
    rows = lister.list_models('resnet50*')
    assert {r[0] for r in rows} >= {'resnet50', 'resnet50_v1c', 'resnet50_v1d'}
    assert all(r[0].lower().startswith('resnet50') for r in rows)
    assert ('ResNet', 'type', 'mmbackbones.models.backbones.resnet') in lister.list_models('ResNet')
    assert [r[0] for r in lister.list_models('Digits', registry='dataset')] == ['DigitsDataset']
    assert lister.main(['no-such-model']) == 1


def test_feature_maps_png(tmp_path):
    import numpy as np
    from PIL import Image
    image = str(tmp_path / 'in.png')
    Image.fromarray((np.random.default_rng(0).random((40, 40, 3)) * 255).astype('uint8')).save(
        image)
    out = str(tmp_path / 'maps.png')
    maps = tool('visualization/feature_maps.py')
    assert maps.main(['resnet18', image, '--out', out, '--shape', '64',
                      '--model-args', 'out_indices=(1,3)']) == 0
    grid = Image.open(out)
    assert grid.size[0] > 500 and grid.size[1] > 200  # 2 rows x 9 panels


# ------------------------------------------------------------------ one builder for every tool
TOOLS = {'benchmark': 'analysis_tools/benchmark.py', 'get_flops': 'analysis_tools/get_flops.py',
         'export': 'deployment/export.py', 'feature_maps': 'visualization/feature_maps.py'}


def _argv(name: str, model: str, *extra: str) -> list[str]:
    argv = [model] + (['image.png'] if name == 'feature_maps' else []) + list(extra)
    return argv + (['--format', 'onnx'] if name == 'export' else [])


@pytest.mark.parametrize('name', sorted(TOOLS))
def test_tools_refuse_a_class_without_its_arguments(name, capsys, monkeypatch, tmp_path):
    """A class name that needs ``depth`` is refused with the variants that would do; no tool
    builds a shrunken stand-in."""
    monkeypatch.chdir(tmp_path)
    from PIL import Image
    Image.new('RGB', (8, 8)).save('image.png')
    assert tool(TOOLS[name]).main(_argv(name, 'ResNeXt')) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ResNeXt needs depth (depth: one of [50, 101, 152])'), err
    assert 'resnext50_32x4d' in err and '--model-args depth=...' in err


@pytest.mark.parametrize('name', sorted(TOOLS))
def test_tools_take_cfg_options_for_configs_only(name, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    from PIL import Image
    Image.new('RGB', (8, 8)).save('image.png')
    assert tool(TOOLS[name]).main(_argv(name, 'resnet18', '--cfg-options', 'depth=34')) == 2
    assert 'is a registered name, not a config file' in capsys.readouterr().err


def test_build_for_tool_builds_exactly_what_is_named():
    from mmbackbones.cli import build_for_tool
    full = build_for_tool('ResNeXt', dict(depth=50)).backbone
    assert sum(p.numel() for p in full.parameters()) == \
        sum(p.numel() for p in MODELS.build(dict(type='resnext50_32x4d')).parameters())
    built = build_for_tool(DIGITS, dict(frozen_stages=1), {'model.backbone.depth': 34},
                           part='backbone')
    assert built.label == 'resnet18_8xb16_digits' and built.backbone is built.model
    assert built.backbone.frozen_stages == 1 and len(built.backbone.layer1) == 3  # depth 34


@pytest.mark.parametrize('shape, expected', [
    (None, (1, 3, 224, 224)), ([64], (1, 3, 64, 64)), ([32, 48], (1, 3, 32, 48)),
    ([2, 3, 40, 40], (2, 3, 40, 40)), ([1, 3, 4, 40, 40], ValueError), ([3, 40, 40], ValueError)])
def test_one_shape_convention(shape, expected):
    from mmbackbones.cli import input_shape
    backbone = MODELS.build(dict(type='resnet18'))
    if expected is ValueError:
        with pytest.raises(ValueError, match='--shape .*: give S, H W or the full 4-D'):
            input_shape(backbone, shape)
    else:
        assert input_shape(backbone, shape) == expected
    video = MODELS.build(dict(type='ResNet3d', depth=18))
    assert input_shape(video, [64], batch=8) == (8, 3, 4, 64, 64)  # T from the model


def test_benchmark_writes_its_table_as_json(tmp_path, capsys):
    import json
    out = str(tmp_path / 'bench.json')
    assert tool(TOOLS['benchmark']).main([
        'resnet18', '--model-args', 'num_stages=2', '--shape', '32', '--batch-size', '2',
        '--warmup', '0', '--iters', '1', '--repeats', '1', '--no-memory', '--compare',
        '--json', out]) == 0
    captured = capsys.readouterr()
    assert 'repeat 1/1 mmbackbones resnet18' in captured.err  # progress
    [table] = json.load(open(out))
    assert table['model'] == 'resnet18' and table['input_shape'] == [2, 3, 32, 32]
    [row] = table['rows']
    assert row['implementation'] == 'mmbackbones resnet18' and row['infer img/s'] > 0
    # every call is timed: the latency per image, median and 90th percentile
    assert 0 < row['infer ms p50'] <= row['infer ms p90']
    # the arithmetic limit of the model on this CPU, and the row's share of the fp32 one
    limit = table['limit']
    assert limit['ops_per_image'] > 0 and limit['img_per_s']['fp32'] > 0
    precision, share = limit['shares']['mmbackbones resnet18']
    assert precision == 'fp32' and share == pytest.approx(
        row['infer img/s'] / limit['img_per_s']['fp32'])
    assert row['params'] == sum(p.numel() for p in MODELS.build(
        dict(type='resnet18', num_stages=2)).parameters())
    assert os.listdir(tmp_path) == ['bench.json']


def test_benchmark_percentile_and_row_precision():
    bench = tool(TOOLS['benchmark'])
    assert bench.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert bench.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == pytest.approx(4.6)
    assert bench.row_precision('mmbackbones resnet50 [deploy] bf16', 'bf16') == 'bf16'
    assert bench.row_precision('mmbackbones resnet50 [int8]', 'bf16') == 'int8'
    assert bench.row_precision('mmbackbones resnet50 [openvino]', 'bf16') == 'bf16'
    assert bench.row_precision('mmbackbones resnet50 [openvino-fp32]', 'bf16') == 'fp32'
    assert bench.row_precision('torchvision resnet50', 'bf16') == 'fp32'


def test_benchmark_refuses_a_negative_settle_pause(capsys):
    with pytest.raises(SystemExit):
        tool(TOOLS['benchmark']).main(['resnet18', '--settle', '-1'])
    assert '--settle -1.0: a pause in seconds, 0 or more' in capsys.readouterr().err


def test_conv_call_overhead_times_every_native_precision(capsys):
    """The reproducer of the per-call cost: one row per shape and precision the CPU has
    natively (fp32 always), each op and torch.add timed; bad counts refused."""
    from mmbackbones.utils.hardware import cpu_has_native_bf16, cpu_has_vnni
    overhead = tool('analysis_tools/conv_call_overhead.py')
    assert overhead.main(['--threads', '1', '--calls', '3']) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if ' ch, ' in line]
    kinds = ['fp32'] + ['bf16'] * cpu_has_native_bf16() + ['int8'] * cpu_has_vnni()
    assert [r.split(' | ')[1] for r in rows] == [k for k in kinds for _ in overhead.SHAPES]
    for row in rows:
        op, add = (float(c) for c in row.split(' | ')[2:4])
        assert op > 0 and add > 0
    with pytest.raises(SystemExit):
        overhead.main(['--calls', '0'])
    assert '--calls=0; allowed: an integer >= 1.' in capsys.readouterr().err


@pytest.mark.parametrize('name, stages', [
    ('vgg11', ['stage1', 'stage2', 'stage3', 'stage4', 'stage5']),
    ('googlenet', ['inception3', 'inception4', 'inception5'])])
def test_complexity_rows_are_the_declared_stages(name, stages):
    """Stages that are views of modules kept at their checkpoint names (VGG's ``features``,
    GoogLeNet's inception blocks) are counted under their own names."""
    model = MODELS.build(dict(type=name))
    assert model.stage_names == tuple(stages)
    result = measure_complexity(model, (1, 3, 64, 64))
    rows = {r[0]: r[1] for r in result.rows}
    assert [r for r in rows if r != 'stem'] == stages
    assert all(rows[s] > 0 for s in stages) and sum(rows.values()) == result.params
