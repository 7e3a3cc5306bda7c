"""Packaging: runtime constraints, bounded requirements, shipped tools.

Cheap by design (no download): a clean-environment resolution of torch and
the OpenMMLab stack would fetch gigabytes, so instead

- the pins of requirements/constraints.txt are checked against
  ``install_requires`` and against the declared requirements of every pinned
  package as installed in this environment (the metadata pip's resolver
  reads), which is where ``torch 2.13 -> setuptools>=77.0.3`` clashed with a
  build-time ``setuptools==69.5.1`` pin;
- a wheel is built from a copy of the repository without dependencies
  (``pip wheel --no-deps --no-build-isolation``) and installed with
  ``--no-deps`` into a folder, whose console scripts must then run the tools
  from the installed package, not from the repository.
"""
import importlib.metadata as md
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCRIPTS = ['mmi-train', 'mmi-test', 'mmi-demo', 'mmi-export-student',
           'mmi-plot-combinations']


def read_lines(name):
    with open(osp.join(REPO, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [Requirement(line) for line in lines if line]


def pins(name):
    out = {}
    for req in read_lines(name):
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == '==', \
            f'requirements/{name}: {req} is not an exact pin'
        out[canonicalize_name(req.name)] = Version(specs[0].version)
    return out


def setup_kwargs():
    """What setup.py passes to setuptools.setup (without running it)."""
    import setuptools
    captured = {}
    saved, cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        os.chdir(REPO)
        code = open(osp.join(REPO, 'setup.py')).read()
        exec(compile(code, 'setup.py', 'exec'), {'__file__': osp.join(
            REPO, 'setup.py'), '__name__': '__main__'})
    finally:
        setuptools.setup = saved
        os.chdir(cwd)
    return captured


@pytest.fixture(scope='module')
def kwargs():
    return setup_kwargs()


def test_constraints_hold_runtime_pins_only():
    runtime = pins('constraints.txt')
    build = pins('build.txt')
    assert 'setuptools' not in runtime
    assert build['setuptools'] < Version('70')  # mmcv's setup.py
    assert {'torch', 'torchvision', 'mmcv', 'mmengine', 'mmsegmentation',
            'mmpretrain', 'numpy'} <= set(runtime)


def test_install_requires_are_bounded_and_admit_the_pins(kwargs):
    runtime = pins('constraints.txt')
    requires = [Requirement(r) for r in kwargs['install_requires']]
    names = [canonicalize_name(r.name) for r in requires]
    assert len(names) == len(set(names)), names
    unbounded = []
    for req in requires:
        name = canonicalize_name(req.name)
        ops = {s.operator for s in req.specifier}
        if name != 'regex' and not ops & {'<', '<=', '~=', '=='}:
            unbounded.append(str(req))  # regex: calendar versions
        if name in runtime:
            assert req.specifier.contains(runtime[name]), \
                f'install_requires {req} excludes the pin {runtime[name]}'
    assert not unbounded, f'no upper bound: {unbounded}'
    assert set(runtime) <= set(names), set(runtime) - set(names)


def test_pins_satisfy_what_each_pinned_package_requires():
    """The pins against the requirements pip reads from each package."""
    runtime = pins('constraints.txt')
    checked, clashes = 0, []
    for name in runtime:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker and not req.marker.evaluate({'extra': ''}):
                continue
            dep = canonicalize_name(req.name)
            if dep in runtime:
                checked += 1
                if not req.specifier.contains(runtime[dep],
                                              prereleases=True):
                    clashes.append(f'{name} requires {req}, constraints pin '
                                   f'{dep}=={runtime[dep]}')
    assert not clashes, clashes
    assert checked > 0  # e.g. mmsegmentation -> numpy, torchvision -> torch


def test_old_setuptools_pin_would_clash_with_torch():
    """The clash the split removes, as this environment's torch states it."""
    try:
        requires = md.distribution('torch').requires or []
    except md.PackageNotFoundError:
        pytest.skip('torch metadata not found')
    setuptools = [Requirement(r) for r in requires
                  if canonicalize_name(Requirement(r).name) == 'setuptools']
    if not setuptools:
        pytest.skip('this torch does not require setuptools')
    assert not setuptools[0].specifier.contains(pins('build.txt')[
        'setuptools'])


def test_extras_and_console_scripts_declared(kwargs):
    extras = kwargs['extras_require']
    assert [Requirement(r).name for r in extras['tensorboard']] == \
        ['tensorboard']
    assert Requirement(extras['tensorboard'][0]).specifier
    scripts = kwargs['entry_points']['console_scripts']
    assert sorted(s.split('=')[0] for s in scripts) == sorted(SCRIPTS)
    import mm_incomplete.cli as cli
    for entry in scripts:
        func = entry.split(':')[1]
        assert callable(getattr(cli, func)), entry


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp('src') / 'repo'
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'data', 'work_dirs', '__pycache__', 'build',
        '*.egg-info', 'dist', 'tests'))
    out = tmp_path_factory.mktemp('wheel')
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '--no-index', '-q', '-w', str(out),
         str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path, ) = [str(out / f) for f in os.listdir(out) if f.endswith('.whl')]
    return path


def test_wheel_ships_tools_configs_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = next(n for n in names if n.endswith('.dist-info/METADATA'))
        metadata = z.read(meta).decode()
        entry = next(n for n in names
                     if n.endswith('.dist-info/entry_points.txt'))
        entry_points = z.read(entry).decode()
    for tool in ('train.py', 'test.py', 'demo/image_demo.py',
                 'slurm_train.sh', 'dist_train.sh',
                 'model_converters/export_student.py'):
        assert f'mm_incomplete/.mim/tools/{tool}' in names, tool
    assert 'mm_incomplete/configs/dmrnet/synthetic_seg_cpu.py' in names
    for script in SCRIPTS:
        assert f'{script} = mm_incomplete.cli:' in entry_points
    assert 'Requires-Dist: torch<2.14,>=2.0' in metadata
    assert 'Provides-Extra: tensorboard' in metadata
    assert 'Requires-Dist: setuptools' not in metadata


def test_installed_console_scripts_run_the_packaged_tools(wheel, tmp_path):
    target = tmp_path / 'site'
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
         '-q', '--target', str(target), wheel],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    where = subprocess.run(
        [sys.executable, '-c', 'import mm_incomplete.cli as c; '
         'print(c.tool_path("test"))'], env=env, cwd=str(tmp_path),
        capture_output=True, text=True)
    assert where.stdout.strip() == str(
        target / 'mm_incomplete' / '.mim' / 'tools' / 'test.py'), where
    for script in SCRIPTS:
        assert (target / 'bin' / script).is_file(), script
    proc = subprocess.run(
        [str(target / 'bin' / 'mmi-test'), '--help'], env=env,
        cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '--show-dir' in proc.stdout and '--interval' in proc.stdout
