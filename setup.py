"""Build hook: ship configs, tools and model-index.yml as ``mmbackbones/.mim`` (OpenMMLab layout).

Everything else (metadata, dependencies, extras) is in ``pyproject.toml``. A wheel gets copies
(``mim`` and :mod:`mmbackbones.checkpoint.catalogue` find them in site-packages); an editable install
gets symlinks into the checkout, as mmpretrain's ``setup.py`` makes them.
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')


class build_py_with_mim(build_py):  # noqa: N801  (setuptools command naming)
    """``build_py`` that also writes ``mmbackbones/.mim/{configs,tools,model-index.yml}``."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            self._link(osp.join(HERE, 'mmbackbones', '.mim'))
        else:
            self._copy(osp.join(self.build_lib, 'mmbackbones', '.mim'))

    @staticmethod
    def _copy(mim: str) -> None:
        os.makedirs(mim, exist_ok=True)
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        for name in MIM_FILES:
            src, dst = osp.join(HERE, name), osp.join(mim, name)
            if osp.isdir(dst) and not osp.islink(dst):
                shutil.rmtree(dst)
            elif osp.lexists(dst):
                os.remove(dst)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=ignore)
            else:
                shutil.copyfile(src, dst)

    @staticmethod
    def _link(mim: str) -> None:
        os.makedirs(mim, exist_ok=True)
        for name in MIM_FILES:
            dst = osp.join(mim, name)
            if not osp.lexists(dst):
                os.symlink(osp.join('..', '..', name), dst)


setup(cmdclass={'build_py': build_py_with_mim})
