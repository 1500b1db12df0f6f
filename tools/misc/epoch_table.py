#!/usr/bin/env python
"""Top-1 per epoch of several finished mmaction2 runs, one column each, as a markdown table.

    python tools/misc/epoch_table.py \
        scratch=work_dirs/r3d-18_8xb16-8x32x32_digit-moves \
        center=work_dirs/r3d-18_inflate-center_8xb16-8x32x32_digit-moves \
        --reference scratch

Each ``NAME=WORK_DIR`` is a run directory of ``tools/train.py`` (its newest
``<timestamp>/vis_data/scalars.json``). With ``--reference NAME`` two more rows: each run's final
top-1 minus the reference's, and the first epoch at which each run reaches the reference's final
top-1 (``-`` when it never does).
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'analysis_tools'))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', metavar='NAME=WORK_DIR', help='finished runs')
    parser.add_argument('--reference', metavar='NAME', help='the run the others are compared to')
    args = parser.parse_args(argv)
    for run in args.runs:
        if '=' not in run or not run.split('=', 1)[0] or not run.split('=', 1)[1]:
            parser.error(f'{run!r} is not NAME=WORK_DIR')
    names = [run.split('=', 1)[0] for run in args.runs]
    if args.reference is not None and args.reference not in names:
        parser.error(f'--reference {args.reference!r} is not one of the runs {names}')
    return args


def first_epoch_reaching(top1: list[float], target: float) -> int | None:
    """The first epoch (from 1) whose top-1 is at least ``target``, or None.

    Example:
        >>> first_epoch_reaching([0.2, 0.5, 0.4, 0.6], 0.45)
        2
    """
    return next((epoch for epoch, value in enumerate(top1, 1) if value >= target), None)


def table(runs: dict[str, list[float]], reference: str | None = None) -> str:
    """The markdown table of ``{name: top-1 per epoch}``."""
    names = list(runs)
    lines = ['| epoch | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
    for epoch in range(max(len(r) for r in runs.values())):
        cells = [f'{r[epoch]:.3f}' if epoch < len(r) else '' for r in runs.values()]
        lines.append(f'| {epoch + 1} | ' + ' | '.join(cells) + ' |')
    if reference is not None:
        final = runs[reference][-1]
        gains = [f'{100 * (r[-1] - final):+.1f}' for r in runs.values()]
        reached = [first_epoch_reaching(r, final) for r in runs.values()]
        lines.append(f'| final - {reference} (points) | ' + ' | '.join(gains) + ' |')
        lines.append(f'| first epoch >= {reference} final ({final:.3f}) | ' +
                     ' | '.join('-' if e is None else str(e) for e in reached) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from compare_mmaction_resnet3d import top1_per_epoch
    runs = {}
    try:
        for run in args.runs:
            name, work_dir = run.split('=', 1)
            runs[name] = top1_per_epoch(work_dir)
            if not runs[name]:
                raise FileNotFoundError(f'{work_dir}: no acc/top1 logged (no evaluation yet?)')
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(table(runs, args.reference))
    return 0


if __name__ == '__main__':
    sys.exit(main())
