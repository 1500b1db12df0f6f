"""griffe extension for the API reference: our Google-style docstrings title their examples
``Example:`` (singular, as mmengine/mmcv do); griffe's Google parser knows ``Examples:`` only and
would render the doctest as prose."""
from __future__ import annotations

import re

import griffe

_EXAMPLE = re.compile(r'^(\s*)Example:\s*$', re.M)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section titles to ``Examples:`` before griffe parses a docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r'\1Examples:', obj.docstring.value)
