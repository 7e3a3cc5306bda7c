"""Install mm_incomplete: `pip install -e . -c requirements/constraints.txt`.

tools/setup_env.sh does it (and builds mmcv's ops first). `install_requires`
holds the supported ranges (upper bounds: the releases tested), the
constraints file the tested pins. The tools ship inside the package as
``mm_incomplete/.mim/tools`` (a link to ``tools/`` in the repository, copied
into wheels, as mmsegmentation ships its tools for ``mim``) and run as console
scripts (``mmi-train``, ``mmi-test``, ... see ``mm_incomplete/cli.py``).
"""
import os
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))

# torch, torchvision and mmcv are installed by tools/setup_env.sh in their
# own steps (mmcv is built against the installed torch); these are the ranges
# a user's environment must satisfy. Tested: requirements/constraints.txt.
FRAMEWORK_REQUIRES = ['torch>=2.0,<2.14', 'torchvision>=0.15,<0.29',
                      'mmcv>=2.0.0,<2.2.0']

CONSOLE_SCRIPTS = [
    'mmi-train=mm_incomplete.cli:train',
    'mmi-test=mm_incomplete.cli:test',
    'mmi-demo=mm_incomplete.cli:demo',
    'mmi-export-student=mm_incomplete.cli:export_student',
    'mmi-plot-combinations=mm_incomplete.cli:plot_combinations',
]


def read_version():
    with open(osp.join(HERE, 'mm_incomplete', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_requirements(name):
    """Requirement lines of requirements/<name>.txt (comments dropped)."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def package_files(folder, suffixes):
    """Files under mm_incomplete/<folder> (links followed), package-relative.

    The configs ship so installed users inherit them; ``.mim/tools`` so the
    console scripts and ``mim`` find the tools without the repository.
    """
    out = []
    root = osp.join(HERE, 'mm_incomplete')
    for dirpath, _, files in os.walk(osp.join(root, folder),
                                     followlinks=True):
        if '__pycache__' in dirpath:
            continue
        out += [osp.relpath(osp.join(dirpath, f), root) for f in files
                if f.endswith(suffixes)]
    return out


setup(
    name='mm_incomplete',
    version=read_version(),
    description='Incomplete multimodal learning for OpenMMLab: RGB-D '
    'segmentation and classification robust to missing modalities',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'tools', 'tools.*')),
    package_data={'mm_incomplete': package_files('configs', ('.py', '.md')) +
                  package_files(osp.join('.mim', 'tools'), ('.py', '.sh'))},
    python_requires='>=3.8',
    install_requires=FRAMEWORK_REQUIRES + read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'tensorboard': read_requirements('tensorboard.txt'),
    },
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
    license='Apache-2.0',
    zip_safe=False,
)
