#!/usr/bin/env python
"""Write the digit canvas detection set ahead of training (it is otherwise written on first use).

    python tools/misc/prepare_digit_canvas.py                   # data/digit_det
    python tools/misc/prepare_digit_canvas.py data/digit_det --masks
    python tools/misc/prepare_digit_canvas.py --help            # every generator setting

The same as ``python -m mmbackbones.demos.datasets canvas``, which also writes the clips and tracks.
"""
import os.path as osp
import sys

# Run from a checkout without `pip install -e .`: import this checkout's mmbackbones.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmbackbones.demos.datasets.digit_canvas import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
