"""Write a digit dataset ahead of training (each is otherwise written on first use)::

    python -m mmbackbones.demos.datasets canvas data/digit_det --masks
    python -m mmbackbones.demos.datasets clips data/digit_clips
    python -m mmbackbones.demos.datasets moves data/digit_moves
    python -m mmbackbones.demos.datasets tracks data/digit_tracks --num-train 480
    python -m mmbackbones.demos.datasets tracks --help    # every setting, with its default

A generator module run as ``-m`` would be imported twice (once by this package, once as
``__main__``); this entry point is imported by nothing.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

from . import digit_canvas, digit_clips, digit_moves, digit_tracks

PROG = 'python -m mmbackbones.demos.datasets'
#: What each command writes, by its generator's ``main``.
COMMANDS = {'canvas': digit_canvas.main, 'clips': digit_clips.main, 'moves': digit_moves.main,
            'tracks': digit_tracks.main}
USAGE = f'usage: {PROG} {{{",".join(COMMANDS)}}} [DATA_ROOT] [--SETTING VALUE ...]'


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (['-h'], ['--help']):
        print(USAGE)
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        if argv:
            print(f'error: {argv[0]!r} is not one of {sorted(COMMANDS)}', file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:], prog=f'{PROG} {argv[0]}')


if __name__ == '__main__':
    sys.exit(main())
