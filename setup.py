import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    with open(osp.join(HERE, 'requirements', name)) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def read_version():
    scope = {}
    with open(osp.join(HERE, 'mmbackbones', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmbackbones',
    version=read_version(),
    description='OpenMMLab-style registry of CNN backbones and necks',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'lite': read_requirements('mminstall.txt'),
        'train': read_requirements('train.txt'),
        'deploy': read_requirements('deploy.txt'),
        'openvino': read_requirements('deploy.txt') + read_requirements('openvino.txt'),
        'tests': (read_requirements('tests.txt') + read_requirements('train.txt') +
                  read_requirements('deploy.txt')),
    },
    license='Apache-2.0',
    zip_safe=False,
)
