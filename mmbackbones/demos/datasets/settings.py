"""The settings of the digit data generators: one table per generator, one set of rules.

Each generator (:mod:`.digit_canvas`, :mod:`.digit_tracks`, :mod:`.digit_clips`,
:mod:`.digit_moves`) declares its settings once, as a :class:`GeneratorSettings` of
:class:`Setting` (default, rule, meaning). Every way in checks what the user typed against that
table: ``prepare_digit_*(data_root, **settings)``, the dataset classes' ``generator=dict(...)``
(which call it), ``generate(...)`` and the command line (``python -m
mmbackbones.demos.datasets``, built from the same table). A value of the wrong kind raises
``TypeError`` (a bool is not an int, a str is not a number), a value of the right kind out of
range ``ValueError``; either message names the setting, the value and what is allowed, and is the
same in every generator that has the setting::

    num_train=True must be a positive int (a bool is not an int).
    digit_size=(30, 20) must be (min, max) int pixels, 8 <= min <= max.
    val_fraction=1.0 must be a number in (0, 1).
"""
from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

#: The settings every generator has: how many items each split holds.
SPLIT_COUNTS = ('num_train', 'num_val')


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Rule:
    """What the values of a setting must be; a value of another kind is a ``TypeError``, one
    out of range a ``ValueError``, with the same message."""

    #: What a value (or each of its two ends) is: ``'an int'`` or ``'a number'``.
    kind = 'an int'
    #: The settings the range reads (a frame side reads ``digit_size``); checked before it.
    depends_on: tuple[str, ...] = ()

    def allowed(self, settings: dict) -> str:
        raise NotImplementedError

    def of_kind(self, value: Any) -> bool:
        return (_is_int if self.kind == 'an int' else _is_number)(value)

    def in_range(self, value: Any, settings: dict) -> bool:
        raise NotImplementedError

    def check(self, name: str, value: Any, settings: Optional[dict] = None) -> None:
        """Raise ``TypeError``/``ValueError`` naming ``name``, ``value`` and what is allowed
        unless ``value`` follows the rule (``settings``: the others, for :attr:`depends_on`)."""
        settings = settings or {}
        error = None if self.of_kind(value) else TypeError
        if error is None and not self.in_range(value, settings):
            error = ValueError
        if error is not None:
            ends = value if isinstance(value, (list, tuple)) else [value]
            why = f' (a bool is not {self.kind})' if any(isinstance(v, bool) for v in ends) else ''
            raise error(f'{name}={value!r} must be {self.allowed(settings)}{why}.')


@dataclass(frozen=True)
class Count(Rule):
    """An int of at least ``minimum``: a number of images or frames, a seed."""

    minimum: int = 1

    def allowed(self, settings: dict) -> str:
        return {0: 'a non-negative int', 1: 'a positive int'}.get(
            self.minimum, f'an int >= {self.minimum}')

    def in_range(self, value: int, settings: dict) -> bool:
        return value >= self.minimum


@dataclass(frozen=True)
class Span(Rule):
    """``(min, max)``: a list or tuple of two ints (two numbers unless ``integer``), with
    ``low <= min <= max`` (``low < min`` when ``strict``)."""

    low: float
    unit: str = 'ints'
    integer: bool = True
    strict: bool = False

    @property
    def kind(self) -> str:
        return 'an int' if self.integer else 'a number'

    def allowed(self, settings: dict) -> str:
        return f'(min, max) {self.unit}, {self.low} {"<" if self.strict else "<="} min <= max'

    def of_kind(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(Rule.of_kind(self, v) for v in value)

    def in_range(self, value: Sequence, settings: dict) -> bool:
        if len(value) != 2:
            return False
        return (self.low < value[0] if self.strict else self.low <= value[0]) \
            and value[0] <= value[1]


@dataclass(frozen=True)
class Fraction(Rule):
    """A number in ``(0, 1)``, or in ``[0, 1]`` when ``closed`` (a probability)."""

    closed: bool = False
    kind = 'a number'

    def allowed(self, settings: dict) -> str:
        return 'a number in [0, 1]' if self.closed else 'a number in (0, 1)'

    def in_range(self, value: float, settings: dict) -> bool:
        return 0.0 <= value <= 1.0 if self.closed else 0.0 < value < 1.0


@dataclass(frozen=True)
class FrameSide(Rule):
    """The side of a square frame in pixels: an int with room for ``fit`` of the largest digits
    (the max of ``digit_size``) side by side, plus ``margin`` pixels."""

    fit: int = 1
    margin: int = 4
    depends_on = ('digit_size', )

    def _minimum(self, settings: dict) -> int:
        return self.fit * settings['digit_size'][1] + self.margin

    def allowed(self, settings: dict) -> str:
        largest = {1: 'the largest', 2: 'twice the largest'}[self.fit]
        return (f'an int of at least {largest} digit_size + {self.margin} '
                f'({self._minimum(settings)})')

    def in_range(self, value: int, settings: dict) -> bool:
        return value >= self._minimum(settings)


@dataclass(frozen=True)
class Setting:
    """One generator setting: its default, the rule its values follow and what it means."""

    default: Any
    rule: Rule
    help: str


def seed_and_counts(items: str, num_train: int, num_val: int) -> dict[str, Setting]:
    """The settings every generator starts with: ``seed``, ``num_train``, ``num_val``
    (``items``: what it makes, ``'canvases'``)."""
    return dict(
        seed=Setting(0, Count(0), 'item i of a split depends only on (seed, split, i)'),
        num_train=Setting(num_train, Count(), f'training {items}'),
        num_val=Setting(num_val, Count(), f'validation {items}'))


def digit_size_setting(default: tuple[int, int]) -> Setting:
    """``digit_size``: the height of an upscaled 8 x 8 digit."""
    return Setting(default, Span(8, 'int pixels'),
                   '(min, max) height in pixels of an upscaled 8 x 8 digit')


def speed_setting(default: tuple[float, float]) -> Setting:
    """``speed``: how fast a digit moves."""
    return Setting(default, Span(0, 'pixels per frame', integer=False, strict=True),
                   '(min, max) speed in pixels per frame')


#: ``val_fraction``: which digit samples the val items use (the others are the train items').
VAL_FRACTION = Setting(0.2, Fraction(),
                       "fraction of the digit samples (the last indices) kept for 'val'")


def clip_settings(num_train: int, num_val: int, digit_size: tuple[int, int],
                  speed: tuple[float, float]) -> dict[str, Setting]:
    """The settings of a moving-digit clip set: ``seed``, ``num_train`` and ``num_val`` clips
    of 8 frames of 32 px, ``digit_size``, ``speed``, ``val_fraction``."""
    return dict(**seed_and_counts('clips', num_train=num_train, num_val=num_val),
                num_frames=Setting(8, Count(2), 'frames per clip'),
                frame_size=Setting(32, FrameSide(margin=4), 'side of the square frames in pixels'),
                digit_size=digit_size_setting(digit_size), speed=speed_setting(speed),
                val_fraction=VAL_FRACTION)


class GeneratorSettings:
    """The settings of one generator, in the order its marker file records them.

    Args:
        noun: What the unknown-setting error calls them (``'unknown <noun> settings ...'``).
        version: The generator's output version, recorded in the marker file.
        **settings: Every setting, by name; ``num_train`` and ``num_val`` among them.

    Example:
        >>> SETTINGS = GeneratorSettings('generator', 1, seed=Setting(0, Count(0), 'seed'),
        ...     num_train=Setting(10, Count(), 'train items'),
        ...     num_val=Setting(5, Count(), 'val items'))
        >>> SETTINGS.resolve(dict(num_val=2))
        {'seed': 0, 'num_train': 10, 'num_val': 2, 'version': 1}
        >>> SETTINGS.resolve(dict(num_val=True))
        Traceback (most recent call last):
        TypeError: num_val=True must be a positive int (a bool is not an int).
    """

    def __init__(self, noun: str, version: int, **settings: Setting) -> None:
        missing = [name for name in SPLIT_COUNTS if name not in settings]
        assert not missing, f'a generator has {SPLIT_COUNTS}; missing: {missing}'
        self.noun = noun
        self.version = version
        self.settings = settings

    @property
    def defaults(self) -> dict:
        """``{name: default}`` of every setting."""
        return {name: s.default for name, s in self.settings.items()}

    def check(self, values: dict) -> None:
        """Check ``values`` (known names; the others at their defaults), each against its rule;
        a rule that reads other settings (a frame side reads ``digit_size``) comes after them.

        Raises:
            TypeError: A value of the wrong kind.
            ValueError: A value out of range.
        """
        full = dict(self.defaults, **values)
        for name in sorted(values, key=lambda n: bool(self.settings[n].rule.depends_on)):
            self.settings[name].rule.check(name, values[name], full)

    def resolve(self, given: dict) -> dict:
        """The settings of a generator run: the defaults updated with ``given``, checked, every
        ``(min, max)`` as a list, and the version: what the marker file records.

        Raises:
            TypeError: An unknown setting, or a value of the wrong kind.
            ValueError: A value out of range.
        """
        unknown = set(given) - set(self.settings)
        if unknown:
            raise TypeError(f'unknown {self.noun} settings {sorted(unknown)}; allowed: '
                            f'{sorted(self.settings)}.')
        settings = dict(self.defaults, **given)
        self.check(settings)
        for name, setting in self.settings.items():
            if isinstance(setting.rule, Span):
                settings[name] = list(settings[name])
        return dict(settings, version=self.version)

    def generate_args(self, settings: dict) -> dict:
        """The arguments of ``generate`` from resolved ``settings``: all but the split counts
        and the version, every ``(min, max)`` as a tuple."""
        return {name: tuple(settings[name]) if isinstance(s.rule, Span) else settings[name]
                for name, s in self.settings.items() if name not in SPLIT_COUNTS}

    def main(self, prepare: Callable[..., str], argv: Optional[Sequence[str]] = None,
             prog: Optional[str] = None, **flags: str) -> int:
        """The command line of a generator: ``[DATA_ROOT] [--FLAG] [--SETTING VALUE ...]``.

        Args:
            prepare: The generator's ``prepare_digit_*``: its docstring's first line describes
                the command, its ``data_root`` default is the positional default.
            argv: The arguments (default: ``sys.argv[1:]``).
            prog: The command's name in its help.
            **flags: The boolean arguments of ``prepare`` with their help (``masks=...``).
        """
        parser = argparse.ArgumentParser(
            prog=prog, description=prepare.__doc__.split('\n')[0].replace('``', ''))
        data_root = inspect.signature(prepare).parameters['data_root'].default
        parser.add_argument('data_root', nargs='?', default=data_root,
                            help=f'the folder to write (default: {data_root})')
        for flag, text in flags.items():
            parser.add_argument(f'--{flag}', action='store_true', help=text)
        for name, setting in self.settings.items():
            span = isinstance(setting.rule, Span)
            parser.add_argument(f'--{name.replace("_", "-")}', default=None,
                                type=int if setting.rule.kind == 'an int' else float,
                                nargs=2 if span else None, metavar=('MIN', 'MAX') if span else None,
                                help=f'{setting.help} (default: {setting.default})')
        args = parser.parse_args(argv)
        given = {name: getattr(args, name) for name in self.settings
                 if getattr(args, name) is not None}
        try:
            settings = self.resolve(given)
        except (TypeError, ValueError) as err:
            parser.error(str(err))
        root = prepare(args.data_root, **{flag: getattr(args, flag) for flag in flags}, **given)
        print(f'{root}: ' + ', '.join(f'{name}={settings[name]}' for name in self.settings)
              + ''.join(f', {flag}' for flag in flags if getattr(args, flag)))
        return 0
