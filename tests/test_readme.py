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
