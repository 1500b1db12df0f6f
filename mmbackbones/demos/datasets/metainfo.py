"""What the digit datasets share: the splits, the digit classes and their colours, and the checks
every dataset class makes before it prepares its folder."""
from __future__ import annotations

from collections.abc import Sequence

#: The splits of every digit dataset; each uses only its own digit samples.
SPLITS = ('train', 'val')
#: The digit classes, ``'0'`` to ``'9'``; a COCO ``category_id`` is ``1 + digit``.
CLASSES = tuple(str(d) for d in range(10))
#: The colour of each digit class: matplotlib's tab10, RGB.
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
#: ``METAINFO`` of the digit boxes (canvases, track clips).
DIGIT_METAINFO = dict(classes=CLASSES, palette=PALETTE)
#: ``METAINFO`` of the digit masks: 0 background (black), then ``1 + digit`` on a digit's ink.
DIGIT_SEG_METAINFO = dict(classes=('background', ) + CLASSES, palette=[(0, 0, 0)] + PALETTE)


def coco_categories() -> list[dict]:
    """The COCO ``categories`` of the digits: id ``1 + d`` named ``'d'``."""
    return [dict(id=d + 1, name=name) for d, name in enumerate(CLASSES)]


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f'split={split!r} is not one of {SPLITS}.')


class PreparesItsFolder:
    """What every digit dataset class shares: it writes its ``data_root`` on first use (so
    ``tools/train.py`` does not require the folder to exist) after checking the arguments it is
    given (:meth:`check_and_prepare`)."""

    prepares_data_root = True
    #: The arguments the class derives from ``data_root`` and ``split``: refused in ``kwargs``.
    sets_itself: tuple[str, ...] = ()

    def check_and_prepare(self, prepare, data_root: str, split: str, kwargs: dict,
                          **settings) -> None:
        """:func:`check_dataset_args` (named by the class), then ``prepare(data_root,
        **settings)``: the generator writes the folder unless it is there with those
        settings."""
        check_dataset_args(type(self).__name__, split, kwargs, self.sets_itself)
        prepare(data_root, **settings)


def check_dataset_args(dataset: str, split: str, kwargs: dict, sets_itself: Sequence[str]) -> None:
    """What a digit dataset class checks before it prepares its folder: ``split`` is one of
    :data:`SPLITS`, and ``kwargs`` holds none of the arguments the class derives from its
    ``data_root`` and ``split`` (``sets_itself``: ``ann_file``, ``data_prefix``, ...).

    Raises:
        ValueError: An unknown split.
        TypeError: An argument the class sets itself.
    """
    check_split(split)
    for key in sets_itself:
        if key in kwargs:
            raise TypeError(f'{dataset} sets {key} itself; got {key}={kwargs[key]!r}.')
