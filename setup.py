"""Install mm_incomplete: `pip install -e .` (tools/setup_env.sh does it)."""
import os
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    with open(osp.join(HERE, 'mm_incomplete', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_requirements(name):
    """Requirement names from requirements/<name>.txt (pins live in
    requirements/constraints.txt, applied by tools/setup_env.sh)."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def config_files():
    """The configs ship inside the package so installed users inherit them."""
    out = []
    root = osp.join(HERE, 'mm_incomplete')
    for dirpath, _, files in os.walk(osp.join(root, 'configs')):
        out += [osp.relpath(osp.join(dirpath, f), root) for f in files
                if f.endswith(('.py', '.md'))]
    return out


setup(
    name='mm_incomplete',
    version=read_version(),
    description='Incomplete multimodal learning for OpenMMLab: RGB-D '
    'segmentation and classification robust to missing modalities',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'tools', 'tools.*')),
    package_data={'mm_incomplete': config_files()},
    python_requires='>=3.8',
    install_requires=['torch>=2.0', 'torchvision', 'mmcv>=2.0.0,<2.2.0'] +
    read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache-2.0',
    zip_safe=False,
)
