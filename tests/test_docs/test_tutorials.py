"""Run the code of every tutorial in docs/advanced_guides/ and check results.

Each tutorial runs from a fresh folder that holds links to this repository's
``tools/`` and ``configs/`` (the tutorials' "repository root"), in one
interpreter (``_tutorial_driver.py``: files written, Python blocks executed,
shell commands run, ``python tools/*.py`` in process). The shell finds this
interpreter as ``python`` and a stand-in ``srun`` (tests/data/fake_slurm)
that starts the tasks as local processes with the ``SLURM_*`` variables.
After a tutorial, the test checks what the tutorial says it produces.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

import mm_incomplete  # noqa: F401  (torch.load of mmengine checkpoints)
from _tutorial_driver import blocks

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GUIDES = osp.join(REPO, 'docs', 'advanced_guides')
DRIVER = osp.join(osp.dirname(osp.abspath(__file__)), '_tutorial_driver.py')
FAKE_SLURM = osp.join(REPO, 'tests', 'data', 'fake_slurm')


def run_tutorial(name, folder, extra_env=None):
    """Run docs/advanced_guides/<name>; returns the output of each block."""
    for link in ('tools', 'configs'):
        os.symlink(osp.join(REPO, link), osp.join(folder, link))
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join(
        [osp.dirname(sys.executable), FAKE_SLURM, env.get('PATH', '')])
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, DRIVER, osp.join(GUIDES, name)],
                          cwd=folder, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f'{name} failed:\n{proc.stdout[-6000:]}')
    parts = proc.stdout.split('@@BLOCK ')
    assert len(parts) - 1 == len(blocks(osp.join(GUIDES, name)))
    return [p.split('@@', 1)[1] for p in parts[1:]]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_blocks_parser_reads_files_python_and_shell():
    steps = blocks(osp.join(GUIDES, 'add_dataset.md'))
    kinds = [k for k, _, _ in steps]
    assert kinds.count('shell') == 2 and kinds.count('python') == 1
    assert ('file', 'my_project/kitchen.py') in [(k, a) for k, a, _ in steps]


def test_every_guide_is_listed_and_exercised():
    pages = sorted(f for f in os.listdir(GUIDES) if f.endswith('.md')
                   and f != 'README.md')
    tested = sorted(['add_dataset.md', 'evaluate_every_combination.md',
                     'distill_from_teacher.md', 'run_on_cluster.md'])
    assert pages == tested
    index = open(osp.join(GUIDES, 'README.md')).read()
    for page in pages + ['../adding_a_method.md']:
        assert f']({page})' in index, page


def test_add_dataset(tmp_path):
    logs = run_tutorial('add_dataset.md', str(tmp_path))
    (check, ) = [i for i, (k, _, _) in enumerate(blocks(osp.join(
        GUIDES, 'add_dataset.md'))) if k == 'python']
    assert "2 ('near', 'middle', 'far') (4, 64, 64)" in logs[check]
    wd = tmp_path / 'work_dirs' / 'kitchen'
    assert (wd / 'iter_4.pth').is_file()
    (record, ) = glob.glob(
        str(wd / '*' / 'combination_metrics_val_iter_4.json'))
    with open(record) as f:
        data = json.load(f)
    assert data['combinations'] == ['rgb+depth', 'rgb', 'depth']


def test_evaluate_every_combination(tmp_path):
    logs = run_tutorial('evaluate_every_combination.md', str(tmp_path))
    out = tmp_path / 'work_dirs' / 'moddrop_test'
    # one prediction folder per combination, one PNG per test image in each
    combos = ['depth', 'rgb', 'rgb+depth']
    assert sorted(os.listdir(out / 'preds')) == combos
    for c in combos:
        assert len(os.listdir(out / 'preds' / c)) == 4, c
    # --interval 2 over 4 test images: samples 0 and 2
    assert sorted(os.listdir(out / 'show')) == ['000000.png', '000002.png']
    assert (out / 'combinations.png').is_file()
    assert "['rgb+depth', 'rgb', 'depth']\n['rgb']" in logs[-2]
    demo = sorted(os.listdir(out / 'demo'))
    assert demo == ['000000_panel.png', '000000_rgb.png', '000001_depth.png',
                    '000001_panel.png', '000001_rgb+depth.png',
                    '000001_rgb.png'], demo


def test_distill_from_teacher(tmp_path):
    logs = run_tutorial('distill_from_teacher.md', str(tmp_path))
    student = tmp_path / 'work_dirs' / 'student'
    assert 'loss_kd' in ''.join(logs)
    ckpt = torch.load(str(student / 'iter_4.pth'), map_location='cpu')
    keys = list(ckpt['state_dict'])
    assert keys and all(k.startswith('student.') for k in keys), keys[:5]
    exported = torch.load(str(student / 'student.pth'), map_location='cpu')
    assert not any(k.startswith(('student.', 'teacher.'))
                   for k in exported['state_dict'])
    assert glob.glob(str(tmp_path / 'work_dirs' / 'student_test' / '*' /
                         'combination_metrics_test.json'))


def test_run_on_cluster_with_stand_in_srun(tmp_path):
    srun_log = tmp_path / 'srun.log'
    logs = run_tutorial('run_on_cluster.md', str(tmp_path),
                        dict(FAKE_SRUN_LOG=str(srun_log),
                             MASTER_PORT=str(free_port())))
    calls = srun_log.read_text().splitlines()
    assert len(calls) == 2
    for call, tool in zip(calls, ('train.py', 'test.py')):
        assert call.startswith('-p cpu --job-name=moddrop_small ')
        assert '--ntasks=2 --ntasks-per-node=2 --cpus-per-task=1' in call
        assert '--gres' not in call  # GRES= on a CPU partition
        assert f'tools/{tool}' in call and '--launcher=slurm' in call
    train_log = '\n'.join(logs)
    assert 'Distributed training: True' in train_log
    wd = tmp_path / 'work_dirs' / 'slurm_train'
    assert (wd / 'iter_4.pth').is_file()
    (log_file, ) = glob.glob(str(wd / '*' / '*.log'))
    text = open(log_file).read()
    assert 'Distributed launcher: slurm' in text
    assert 'GPU number: 2' in text  # the world size: both tasks joined
    (record, ) = glob.glob(str(tmp_path / 'work_dirs' / 'slurm_test' / '*' /
                               'combination_metrics_test.json'))
    with open(record) as f:
        data = json.load(f)
    # every combination evaluated over the 4 test images
    assert data['num_samples'] == 4
    assert data['combinations'] == ['rgb+depth', 'rgb', 'depth']
