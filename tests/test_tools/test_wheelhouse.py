"""tools/wheelhouse.py install: offline set-up from a local wheelhouse.

Covers the install side with no network (no index, proxies pointing nowhere)
into a throwaway venv: requirements come only from the folder, a
preinstalled package (numpy here, a stand-in wheel) is kept although another
requirement (`numpy<2`) would replace it, a missing wheel is an error that
names the wheelhouse, and mmcv is built from a source archive with the GPU
hidden and no build isolation (a stand-in mmcv sdist whose in-tree build
backend records the environment it was built in), then reused. Not covered:
`gather` (needs PyPI), the real mmcv compile and the editable install.
"""
import importlib.util
import io
import shutil
import json
import os.path as osp
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'wheelhouse.py')


@pytest.fixture(scope='module')
def wh():
    spec = importlib.util.spec_from_file_location('wheelhouse', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    """A fresh venv without this environment's packages; pip is copied in
    (pure Python; ensurepip would take most of this file's time)."""
    import pip
    path = tmp_path_factory.mktemp('venv')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(path)], check=True)
    python = str(path / 'bin' / 'python')
    site = run_py(python, 'import sysconfig; '
                  'print(sysconfig.get_paths()["purelib"])')
    shutil.copytree(osp.dirname(pip.__file__), osp.join(site, 'pip'))
    # isolated: this environment's numpy is not visible there
    assert subprocess.run([python, '-c', 'import numpy'],
                          capture_output=True).returncode != 0
    return python


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'):
        monkeypatch.setenv(var, 'http://127.0.0.1:9')
    monkeypatch.setenv('PIP_INDEX_URL', 'http://10.255.255.1/simple')


def make_wheel(folder, name, version, files):
    """A minimal valid pure-Python wheel."""
    dist = f'{name}-{version}.dist-info'
    files = dict(files)
    files[f'{dist}/METADATA'] = (f'Metadata-Version: 2.1\nName: {name}\n'
                                 f'Version: {version}\n')
    files[f'{dist}/WHEEL'] = ('Wheel-Version: 1.0\nGenerator: test\n'
                              'Root-Is-Purelib: true\nTag: py3-none-any\n')
    record = ''.join(f'{p},,\n' for p in files) + f'{dist}/RECORD,,\n'
    files[f'{dist}/RECORD'] = record
    path = osp.join(folder, f'{name}-{version}-py3-none-any.whl')
    with zipfile.ZipFile(path, 'w') as z:
        for p, text in files.items():
            z.writestr(p, text)
    return path


BACKEND = '''
import json, os, zipfile

def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    name = 'mmcv-2.1.0-py3-none-any.whl'
    dist = 'mmcv-2.1.0.dist-info'
    env = {k: os.environ.get(k) for k in
           ('CUDA_VISIBLE_DEVICES', 'MMCV_WITH_OPS', 'PIP_NO_INDEX')}
    files = {'mmcv/__init__.py': "__version__ = '2.1.0'\\n",
             'mmcv/build_env.py': 'ENV = ' + json.dumps(env) + '\\n',
             dist + '/METADATA': 'Metadata-Version: 2.1\\nName: mmcv\\n'
                                 'Version: 2.1.0\\n',
             dist + '/WHEEL': 'Wheel-Version: 1.0\\nGenerator: t\\n'
                              'Root-Is-Purelib: true\\nTag: py3-none-any\\n'}
    files[dist + '/RECORD'] = ''.join(p + ',,\\n' for p in files) + \\
        dist + '/RECORD,,\\n'
    with zipfile.ZipFile(os.path.join(wheel_directory, name), 'w') as z:
        for p, text in files.items():
            z.writestr(p, text)
    return name
'''


def make_mmcv_sdist(folder):
    """mmcv-2.1.0.tar.gz whose in-tree backend records its build env."""
    members = {
        'pyproject.toml': '[build-system]\nrequires = []\n'
                          'build-backend = "backend"\nbackend-path = ["."]\n',
        'backend.py': textwrap.dedent(BACKEND),
        'PKG-INFO': 'Metadata-Version: 2.1\nName: mmcv\nVersion: 2.1.0\n',
    }
    path = osp.join(folder, 'mmcv-2.1.0.tar.gz')
    with tarfile.open(path, 'w:gz') as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f'mmcv-2.1.0/{name}')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def run_py(python, code):
    return subprocess.run([python, '-c', code], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_requirement_lines(wh):
    lines = wh.requirement_lines()
    names = {wh.req_name(x) for x in lines}
    for n in ('addict', 'yapf', 'platformdirs', 'termcolor', 'prettytable',
              'wcwidth', 'ftfy', 'mat4py', 'model-index', 'ordered-set',
              'importlib-metadata', 'setuptools', 'mmengine',
              'mmsegmentation', 'mmpretrain', 'opencv-python', 'pytest'):
        assert n in names, n
    assert 'importlib-metadata<10' in lines and 'setuptools<70' in lines
    assert 'mmengine==0.10.7' in lines
    # torch comes with the node, mmcv from its source archive
    assert not names & {'torch', 'torchvision', 'mmcv'}
    assert wh.drop(['numpy<2', 'Model_Index', 'tqdm'],
                   ['numpy', 'model-index']) == ['tqdm']


def test_pins_reject_unpinned_lines(wh, tmp_path):
    (tmp_path / 'requirements').mkdir()
    (tmp_path / 'requirements' / 'constraints.txt').write_text('torch>=2\n')
    with pytest.raises(ValueError, match=r"NAME==VERSION, got 'torch>=2'"):
        wh.pins(str(tmp_path))


def test_offline_install_keeps_preinstalled(wh, venv, tmp_path):
    pre = tmp_path / 'pre'
    house = tmp_path / 'house'
    pre.mkdir()
    house.mkdir()
    # the "node's" numpy 2.5, installed before the set-up runs
    fake_numpy = make_wheel(str(pre), 'numpy', '2.5.0',
                            {'numpy/__init__.py': "__version__='2.5.0'\n"})
    subprocess.run([venv, '-m', 'pip', 'install', '--no-index', '-q',
                    fake_numpy], check=True)
    make_wheel(str(house), 'tinypkg', '1.0',
               {'tinypkg/__init__.py': 'VALUE = 42\n'})
    done = wh.install_requirements(venv, str(house),
                                   ['tinypkg==1.0', 'numpy<2'])
    assert done == ['tinypkg==1.0']
    assert run_py(venv, 'import tinypkg; print(tinypkg.VALUE)') == '42'
    assert wh.installed(venv, ['numpy', 'tinypkg']) == {
        'numpy': '2.5.0', 'tinypkg': '1.0'}

    # the same line without the keep-list cannot be met offline
    with pytest.raises(RuntimeError, match='offline pip failed.*house'):
        wh.install_requirements(venv, str(house), ['numpy<2'], keep=())
    with pytest.raises(FileNotFoundError, match='wheelhouse not found'):
        wh.install_requirements(venv, str(tmp_path / 'nope'), ['tinypkg'])


def test_build_mmcv_hides_gpu_and_reuses_wheel(wh, venv, tmp_path,
                                               monkeypatch):
    house = tmp_path / 'house'
    house.mkdir()
    cache = tmp_path / 'cache'
    with pytest.raises(FileNotFoundError, match='mmcv-2.1.0.tar.gz not in'):
        wh.build_mmcv(venv, str(house), '2.1.0', str(cache))
    sdist = make_mmcv_sdist(str(house))
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0')
    wheel = wh.build_mmcv(venv, str(house), '2.1.0', str(cache))
    assert osp.dirname(wheel) == str(cache)
    env = json.loads(run_py(
        venv, 'import json, mmcv.build_env as e; print(json.dumps(e.ENV))'))
    assert env == {'CUDA_VISIBLE_DEVICES': '', 'MMCV_WITH_OPS': '1',
                   'PIP_NO_INDEX': '1'}
    # a second set-up reuses the cached wheel: no source archive needed
    import os
    os.remove(sdist)
    assert wh.build_mmcv(venv, str(house), '2.1.0', str(cache)) == wheel
    assert run_py(venv, 'import mmcv; print(mmcv.__version__)') == '2.1.0'
