"""Offline set-up for machines without internet (GPU nodes): a wheelhouse.

Shapes: a wheelhouse is one flat folder of wheels (R requirements resolved
for one target Python and platform) plus the mmcv source archive.

On a machine with access to PyPI::

    python tools/wheelhouse.py gather DEST [--python 3.12] \
        [--platform TAG ...] [--with-torch] [--check]

On the offline machine (Python with torch preinstalled; nothing is fetched)::

    WHEELHOUSE=DEST PYTHON=python3.12 bash tools/setup_env.sh

which creates ``.venv`` with ``--system-site-packages`` (so the preinstalled
torch, torchvision and numpy are used as they are, never replaced) and calls
``python tools/wheelhouse.py install DEST ...``: every other requirement is
installed with ``pip --no-index --find-links DEST``, mmcv is built from its
source archive with the GPU hidden (``CUDA_VISIBLE_DEVICES=``, CPU ops only,
which is all the models here need) and this package is installed in
editable mode. Only the standard library is used, so any Python can run it.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import urllib.request
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REQUIREMENTS = ('requirements/runtime.txt', 'requirements/tests.txt')
CONSTRAINTS = 'requirements/constraints.txt'
BUILD = 'requirements/build.txt'  # pins for mmcv's source build
# Seen missing on an offline GPU node beyond the OpenMMLab packages; the
# caps: importlib-metadata 10 imports a `lazy_importer` package it does not
# declare, mmcv's setup.py imports pkg_resources (gone in setuptools 70).
EXTRA = ('addict', 'yapf', 'platformdirs', 'termcolor', 'prettytable',
         'wcwidth', 'ftfy', 'mat4py', 'model-index', 'ordered-set',
         'importlib-metadata<10', 'setuptools<70', 'wheel', 'ninja',
         'packaging', 'Pillow', 'pyyaml', 'rich', 'einops')
# Used as the target Python has them (the node's CUDA build of torch); only
# installed from the wheelhouse when missing there.
PREINSTALLED = ('torch', 'torchvision', 'numpy')
# Installed in their own steps, not with the requirements.
SEPARATE = ('mmcv', )
CACHE = os.environ.get('MM_INCOMPLETE_CACHE',
                       osp.expanduser('~/.cache/mm_incomplete'))
PYPI_JSON = 'https://pypi.org/pypi/{name}/{version}/json'
# pip does not widen a manylinux tag to older glibc tags: numpy 1.26 only
# has manylinux_2_17 wheels, newer packages manylinux_2_28 ones.
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_17_x86_64',
             'manylinux2014_x86_64')


def canonical(name: str) -> str:
    """PEP 503 name: ``Model_Index`` -> ``model-index``."""
    return re.sub(r'[-_.]+', '-', name).lower()


def req_name(line: str) -> str:
    m = re.match(r'\s*([A-Za-z0-9][A-Za-z0-9._-]*)', line)
    if m is None:
        raise ValueError(f'cannot read a package name from {line!r}')
    return canonical(m.group(1))


def read_lines(path: str) -> List[str]:
    """Requirement lines of ``path`` without comments and blanks."""
    out = []
    with open(path) as f:
        for raw in f:
            line = raw.split('#', 1)[0].strip()
            if line:
                out.append(line)
    return out


def pins(root: str = ROOT) -> Dict[str, str]:
    """``{name: version}`` from requirements/constraints.txt."""
    out = {}
    for line in read_lines(osp.join(root, CONSTRAINTS)):
        name, sep, version = line.partition('==')
        if not sep:
            raise ValueError(f'{CONSTRAINTS}: expected NAME==VERSION, '
                             f'got {line!r}')
        out[canonical(name)] = version.strip()
    return out


def requirement_lines(root: str = ROOT) -> List[str]:
    """Everything the project needs besides torch/torchvision and mmcv."""
    lines = []
    for rel in REQUIREMENTS:
        lines += read_lines(osp.join(root, rel))
    lines += EXTRA
    lines += [f'{n}=={v}' for n, v in pins(root).items()
              if n not in PREINSTALLED + SEPARATE]
    if osp.isfile(osp.join(root, BUILD)):
        lines += read_lines(osp.join(root, BUILD))
    return lines


def drop(lines: Sequence[str], names: Sequence[str]) -> List[str]:
    names = {canonical(n) for n in names}
    return [line for line in lines if req_name(line) not in names]


def installed(python: str, names: Sequence[str]) -> Dict[str, str]:
    """``{name: version}`` of those ``names`` the target ``python`` has."""
    code = ('import importlib.metadata as m, json, sys\n'
            'out = {}\n'
            'for n in sys.argv[1:]:\n'
            '    try:\n'
            '        out[n] = m.version(n)\n'
            '    except m.PackageNotFoundError:\n'
            '        pass\n'
            'print(json.dumps(out))\n')
    res = subprocess.run([python, '-c', code, *names], check=True,
                         capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def offline_env(**extra: str) -> Dict[str, str]:
    """pip's environment with no index and no machine-wide settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('PIP_')}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX='1',
               PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.update(extra)
    return env


def offline_pip(python: str, wheelhouse: str, args: Sequence[str],
                **env: str) -> None:
    cmd = [python, '-m', 'pip', *args[:1], '--no-index', '--find-links',
           wheelhouse, *args[1:]]
    print('[wheelhouse] ' + ' '.join(cmd), file=sys.stderr, flush=True)
    res = subprocess.run(cmd, env=offline_env(**env))
    if res.returncode != 0:
        raise RuntimeError(
            f'offline pip failed (exit {res.returncode}) with wheelhouse '
            f'{wheelhouse}: {" ".join(cmd)}. A "No matching distribution" '
            'above names a wheel the wheelhouse lacks: gather it again for '
            "this machine's Python and platform.")


def install_requirements(python: str, wheelhouse: str,
                         lines: Sequence[str],
                         keep: Sequence[str] = PREINSTALLED) -> List[str]:
    """Install ``lines`` from ``wheelhouse`` only, keeping ``keep`` as is.

    A package of ``keep`` that the target ``python`` already has is dropped
    from ``lines`` and pinned to its installed version, so that no other
    requirement can make pip replace it (e.g. ``numpy<2`` next to a torch
    built for numpy 2). Returns the lines that were installed.
    """
    if not osp.isdir(wheelhouse):
        raise FileNotFoundError(f'wheelhouse not found: {wheelhouse}')
    have = installed(python, keep)
    todo = drop(lines, have)
    with tempfile.TemporaryDirectory() as tmp:
        req = osp.join(tmp, 'requirements.txt')
        con = osp.join(tmp, 'constraints.txt')
        with open(req, 'w') as f:
            f.write('\n'.join(todo) + '\n')
        with open(con, 'w') as f:
            f.write(''.join(f'{n}=={v}\n' for n, v in have.items()))
        offline_pip(python, wheelhouse, ['install', '-r', req, '-c', con])
    after = installed(python, list(have))
    if after != have:
        raise RuntimeError(f'preinstalled packages changed: {have} -> '
                           f'{after}')
    return todo


def build_mmcv(python: str, wheelhouse: str, version: str,
               wheel_dir: str) -> str:
    """Build (once) and install mmcv ``version`` from the wheelhouse sdist.

    The GPU is hidden from the build (``CUDA_VISIBLE_DEVICES=``), so only
    the CPU ops are compiled; ``--no-build-isolation`` lets the build see the
    installed torch and setuptools<70. The wheel is kept in ``wheel_dir``.
    """
    wheels = glob.glob(osp.join(wheel_dir, f'mmcv-{version}-*.whl'))
    if not wheels:
        sdists = glob.glob(osp.join(wheelhouse, f'mmcv-{version}.tar.gz'))
        if not sdists:
            raise FileNotFoundError(
                f'mmcv-{version}.tar.gz not in the wheelhouse {wheelhouse} '
                '(python tools/wheelhouse.py gather puts it there)')
        os.makedirs(wheel_dir, exist_ok=True)
        offline_pip(python, wheelhouse,
                    ['wheel', '--no-build-isolation', '--no-deps', '-w',
                     wheel_dir, sdists[0]],
                    CUDA_VISIBLE_DEVICES='', MMCV_WITH_OPS='1',
                    FORCE_CUDA='0',
                    MAX_JOBS=os.environ.get('MAX_JOBS',
                                            str(os.cpu_count() or 1)))
        wheels = glob.glob(osp.join(wheel_dir, f'mmcv-{version}-*.whl'))
        if not wheels:
            raise RuntimeError(f'the mmcv build wrote no wheel to {wheel_dir}')
    offline_pip(python, wheelhouse,
                ['install', '--no-deps', '--force-reinstall', wheels[0]])
    return wheels[0]


def install(python: str, wheelhouse: str, root: Optional[str] = ROOT,
            cache: str = CACHE) -> None:
    """The whole offline set-up into the environment of ``python``.

    The mmcv wheel is kept in ``cache/wheels/torch-VERSION``, the folder the
    online set-up uses. ``root=None`` skips the editable install.
    """
    have = installed(python, ('torch', ))
    names = {req_name(p) for p in os.listdir(wheelhouse)
             if p.endswith('.whl')}
    if 'torch' not in have and 'torch' not in names:
        raise RuntimeError(
            f'{python} has no torch and the wheelhouse {wheelhouse} has no '
            'torch wheel: use the Python that has torch (PYTHON=...) or '
            'gather with --with-torch')
    lines = requirement_lines(root or ROOT)
    if 'torch' not in have:
        p = pins(root or ROOT)
        lines += [f'torch=={p["torch"]}', f'torchvision=={p["torchvision"]}']
    # build tools first: mmcv's setup.py needs them without isolation
    install_requirements(python, wheelhouse,
                         [x for x in lines if req_name(x) in
                          ('setuptools', 'wheel', 'ninja', 'packaging')])
    install_requirements(python, wheelhouse, lines)
    torch_version = installed(python, ('torch', ))['torch']
    wheel_dir = osp.join(cache, 'wheels', f'torch-{torch_version}')
    build_mmcv(python, wheelhouse, pins(root or ROOT)['mmcv'], wheel_dir)
    if root is not None:
        offline_pip(python, wheelhouse,
                    ['install', '--no-deps', '--no-build-isolation', '-e',
                     root])


def _download(url: str, sha256: str, dest: str) -> None:
    with urllib.request.urlopen(url) as r:
        data = r.read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise RuntimeError(f'{url}: sha256 {got}, PyPI says {sha256}')
    with open(dest, 'wb') as f:
        f.write(data)


def gather(dest: str, python: str = '3.12',
           platforms: Sequence[str] = PLATFORMS,
           with_torch: bool = False, root: str = ROOT, check: bool = False,
           pip: Sequence[str] = (sys.executable, '-m', 'pip')) -> None:
    """Download every wheel for Python ``python`` on ``platforms`` + mmcv.

    ``check``: only resolve (pip's metadata, no wheel downloaded) and print
    what would be gathered.
    """
    os.makedirs(dest, exist_ok=True)
    lines = requirement_lines(root)
    if with_torch:
        p = pins(root)
        lines += [f'torch=={p["torch"]}', f'torchvision=={p["torchvision"]}']
    target_args = ['--only-binary=:all:', '--python-version', python,
                   '--implementation', 'cp']
    for plat in platforms:
        target_args += ['--platform', plat]
    if check:
        report = osp.join(dest, 'resolution.json')
        cmd = [*pip, 'install', '--dry-run', '--ignore-installed', '--target',
               osp.join(dest, 'unused'), '--report', report, '-q',
               *target_args, *lines]
    else:
        cmd = [*pip, 'download', '--dest', dest, *target_args, *lines]
    print('[wheelhouse] ' + ' '.join(cmd), file=sys.stderr, flush=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ('PIP_FIND_LINKS', 'PIP_CONSTRAINT', 'PIP_NO_INDEX')}
    subprocess.run(cmd, check=True, env=dict(env, PIP_CONFIG_FILE=os.devnull))
    if check:
        with open(report) as f:
            picked = json.load(f)['install']
        for item in picked:
            print(item['download_info']['url'].rsplit('/', 1)[-1])
        print(f'[wheelhouse] {len(picked)} wheels resolve for Python '
              f'{python} on {list(platforms)}', file=sys.stderr)
        return
    # mmcv 2.1.0 has only a source release; fetched as a file, since
    # `pip download` would run its setup.py (which imports torch).
    version = pins(root)['mmcv']
    with urllib.request.urlopen(
            PYPI_JSON.format(name='mmcv', version=version)) as r:
        meta = json.load(r)
    sdists = [u for u in meta['urls'] if u['packagetype'] == 'sdist']
    if not sdists:
        raise RuntimeError(f'PyPI lists no source archive for mmcv {version}')
    target = osp.join(dest, f'mmcv-{version}.tar.gz')
    if not osp.isfile(target):
        _download(sdists[0]['url'], sdists[0]['digests']['sha256'], target)
    with open(osp.join(dest, 'wheelhouse.json'), 'w') as f:
        json.dump({'python': python, 'platforms': list(platforms),
                   'requirements': lines, 'mmcv_sdist': osp.basename(target)},
                  f, indent=1)
    print(f'[wheelhouse] {len(os.listdir(dest))} files in {dest}',
          file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('gather', help='download the wheels (needs PyPI)')
    g.add_argument('dest')
    g.add_argument('--python', default='3.12', help='target X.Y')
    g.add_argument('--platform', action='append', default=None,
                   help='pip platform tag (repeatable); default '
                   + ' '.join(PLATFORMS))
    g.add_argument('--check', action='store_true',
                   help='only resolve and list the wheels, download none')
    g.add_argument('--with-torch', action='store_true',
                   help='also torch/torchvision at the pinned versions')
    i = sub.add_parser('install', help='install from a wheelhouse, offline')
    i.add_argument('wheelhouse')
    i.add_argument('--python', default=sys.executable,
                   help='the environment to install into')
    i.add_argument('--root', default=ROOT)
    i.add_argument('--cache', default=CACHE,
                   help='the mmcv wheel goes to CACHE/wheels/torch-VERSION')
    args = p.parse_args(argv)
    if args.cmd == 'gather':
        if not re.fullmatch(r'3\.\d+', args.python):
            raise SystemExit(f'--python: expected X.Y, got {args.python}')
        gather(args.dest, args.python, args.platform or PLATFORMS,
               args.with_torch, check=args.check)
    else:
        install(args.python, osp.abspath(args.wheelhouse), args.root,
                args.cache)


if __name__ == '__main__':
    main()
