"""mmbackbones: an OpenMMLab-style registry of CNN backbones and necks.

``import mmbackbones`` registers every backbone and neck and gives the public API: ``MODELS``,
``build_model``, ``hub`` (published weights) and ``register_all_modules``. The runner support
(:mod:`mmbackbones.engine`), deploy (:mod:`mmbackbones.deploy`) and the demo tasks
(:mod:`mmbackbones.demos`) are imported where they are used (``tools/train.py``, a config's
``custom_imports``); docs/architecture.md draws the layers.
"""
from .version import __version__


def _check_mmcv() -> None:
    try:
        import mmcv
        from mmcv.cnn import build_conv_layer  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'mmbackbones needs mmcv (2.0 <= version < 2.2) for its conv/norm/plugin builders. '
            "Install the pure-Python build with `pip install 'mmcv-lite>=2.0.0,<2.2.0'`, or a "
            'full mmcv with compiled ops (tools/build_mmcv.sh). See README.md.') from err
    from packaging.version import Version
    if not Version('2.0.0') <= Version(mmcv.__version__) < Version('2.2.0'):
        raise ImportError(f'mmbackbones supports mmcv>=2.0.0,<2.2.0 (as mmdet 3.x does); found '
                          f'mmcv {mmcv.__version__}.')


_check_mmcv()

from . import hub, models  # noqa: E402  (hub: mmbackbones.checkpoint.hub)
from .build import build_model, register_all_modules  # noqa: E402
from .registry import MODELS  # noqa: E402

__all__ = ['__version__', 'MODELS', 'build_model', 'hub', 'models', 'register_all_modules']
