"""``mmbackbones.hub`` is :mod:`mmbackbones.checkpoint.hub`, the same module object (patching one
patches the other): published weights, downloads and the cache, under the name users import."""
import sys

from .checkpoint import hub as _hub

sys.modules[__name__] = _hub
