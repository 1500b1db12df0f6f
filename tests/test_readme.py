"""README.md's two fresh-machine commands stay true: CI runs the test command it prints."""
from __future__ import annotations

import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _read(*parts: str) -> str:
    with open(osp.join(ROOT, *parts), encoding='utf-8') as f:
        return f.read()


def _readme_commands() -> list[str]:
    """The one-line commands of README's 'Fresh machine' section, in order."""
    section = _read('README.md').split('## Fresh machine', 1)[1].split('\n## ', 1)[0]
    return [block.strip() for block in re.findall(r'```bash\n(.*?)```', section, re.S)]


def test_readme_gives_the_main_job_and_the_test_command():
    train, tests = _readme_commands()[:2]
    assert re.fullmatch(r'bash tools/install\.sh && python tools/train\.py configs/\S+\.py', train)
    assert osp.isfile(osp.join(ROOT, train.split()[-1])), train
    assert tests == 'bash tools/install.sh && python -m pytest -n auto tests'


def test_ci_runs_the_readme_test_command_verbatim():
    ci = _read('.ci', 'run')
    body = re.search(r'readme_test_command\(\) \{\n(.*?)\n\}', ci, re.S).group(1)
    command = [line.strip() for line in body.splitlines() if not line.strip().startswith('#')]
    assert command == [_readme_commands()[1]]
    # ... in its basic part, which the tiers part follows
    assert re.search(r'^basic\(\) \{\n(.*\n)*?.*readme_test_command\n', ci, re.M)
    assert re.search(r'^PARTS=\$\{1:-basic tiers\}$', ci, re.M)


# ----------------------------------------------------------------------------- landing page
def test_readme_is_a_landing_page_whose_links_resolve():
    text = _read('README.md')
    assert len(text.splitlines()) <= 200
    links = re.findall(r'\]\(([^)#]+)(?:#[^)]*)?\)', text)
    local = [link for link in links if '://' not in link]
    assert local, 'README links to its docs'
    missing = [link for link in local if not osp.exists(osp.join(ROOT, link))]
    assert not missing, f'README links to missing files: {missing}'


def test_readme_family_table_agrees_with_the_metafiles():
    """Every named variant has one row, with the metafile's parameters, FLOPs and weights."""
    from mmbackbones import MODELS
    from mmbackbones.checkpoint.catalogue import load_weights, load_zoo

    from conftest import registered_backbones
    zoo, weights = load_zoo(), load_weights()
    rows = re.findall(r'^\| \w+ \| `(\w+)` \| ([\d.-]+) \| ([\d.-]+) \| (.*) \|$',
                      _read('README.md'), re.M)
    variants = [n for n in registered_backbones() if not isinstance(MODELS.get(n), type)]
    assert sorted(r[0] for r in rows) == sorted(variants)
    for name, params, flops, published in rows:
        entry = zoo.get(name)
        assert params == (f'{entry.params / 1e6:.1f}' if entry and entry.params else '-'), name
        assert flops == (f'{entry.flops / 1e9:.2f}' if entry and entry.flops else '-'), name
        listed = re.findall(r'`(\w+)` ([\d.]+)', published)
        ours = sorted((w for w in weights.values() if w.variant == name),
                      key=lambda w: (not w.default, w.tag))
        assert listed == [(w.tag, f'{w.metrics["Top 1 Accuracy"]:g}') for w in ours], name


def test_readme_use_block_runs(tmp_path, monkeypatch):
    """The 'Use' lines run as printed (the weights come from a pre-filled torch hub cache)."""
    import torch
    import torchvision

    from conftest import prefill_hub_cache
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    theirs = torchvision.models.resnet50()
    prefill_hub_cache('mmbackbones://resnet50', theirs.state_dict())
    block = _read('README.md').split('## Use', 1)[1].split('```python\n', 1)[1].split('```')[0]
    assert len(block.splitlines()) <= 12
    scope: dict = {}
    exec(compile(block, 'README.md', 'exec'), scope)  # noqa: S102  (our own README)
    model = scope['model']
    assert model.out_channels == (512, 1024, 2048) and len(scope['feats']) == 3
    assert torch.equal(model.layer2[0].conv1.weight, theirs.layer2[0].conv1.weight)
