"""tools/train.py, tools/test.py and tools/dist_train.sh end to end.

One tiny run (a synthetic set of a few images, 4 iterations) is trained once
per module and reused: resume, test, distributed training and a config that
lives outside the repository and inherits one of ours.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

import mm_incomplete  # noqa: F401  (allows mmengine checkpoint types)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY = sys.executable
BASE = 'baselines/multi_branch_moddrop_synthetic_seg_cpu.py'
# mmengine evaluates `_base_` itself; this finds the installed package's
# configs without importing it (README, "Inheriting our configs").
BASE_EXPR = ("__import__('importlib.util').util.find_spec('mm_incomplete')"
             ".submodule_search_locations[0] + '/configs/{}'")


def write_user_config(folder, data_root, max_iters=4):
    """A config outside the repo that inherits ours and shrinks the run."""
    path = osp.join(folder, 'my_project_cfg.py')
    small = dict(data_root=data_root, num_train=8, num_val=4, num_test=4)
    with open(path, 'w') as f:
        f.write(f'_base_ = [{BASE_EXPR.format(BASE)}]\n'
                f'small = {small!r}\n'
                'train_dataloader = dict(batch_size=2, num_workers=0, '
                'dataset=small)\n'
                'val_dataloader = dict(batch_size=2, num_workers=0, '
                'dataset=small)\n'
                'test_dataloader = val_dataloader\n'
                f'train_cfg = dict(max_iters={max_iters}, '
                f'val_interval={max_iters})\n'
                'param_scheduler = []\n'
                'default_hooks = dict(logger=dict(interval=1), '
                'checkpoint=dict(interval=2, max_keep_ckpts=-1, '
                'save_best=None))\n')
    return path


def run(args, cwd, env=None, timeout=400):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-3000:]}')
    return proc


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train 4 iterations with tools/train.py from a folder outside the repo."""
    root = tmp_path_factory.mktemp('user_project')
    cfg = write_user_config(str(root), str(root / 'data'))
    work_dir = str(root / 'work')
    run([PY, osp.join(REPO, 'tools/train.py'), cfg, '--work-dir', work_dir],
        cwd=str(root))
    return dict(root=str(root), cfg=cfg, work_dir=work_dir)


def test_train_writes_checkpoints_and_combination_metrics(trained):
    wd = trained['work_dir']
    assert osp.isfile(osp.join(wd, 'iter_2.pth'))
    assert osp.isfile(osp.join(wd, 'iter_4.pth'))
    ckpt = torch.load(osp.join(wd, 'iter_4.pth'))  # weights_only default
    assert ckpt['meta']['iter'] == 4
    metrics = glob.glob(osp.join(wd, '*', 'combination_metrics_val_*.json'))
    assert metrics, 'the every-combination val loop wrote no JSON'


def test_resume_restores_iteration_optimizer_and_weights(trained):
    from mmengine.runner import Runner

    from mm_incomplete.utils.launch import load_config
    ckpt_path = osp.join(trained['work_dir'], 'iter_2.pth')
    saved = torch.load(ckpt_path)
    cfg = load_config(trained['cfg'])
    cfg.work_dir = osp.join(trained['root'], 'resumed')
    cfg.resume, cfg.load_from = True, ckpt_path
    cwd = os.getcwd()
    os.chdir(trained['root'])
    try:
        runner = Runner.from_cfg(cfg)
        runner.load_or_resume()
    finally:
        os.chdir(cwd)
    assert runner.iter == 2
    state = runner.model.state_dict()
    for key, value in saved['state_dict'].items():
        assert torch.equal(state[key], value), key
    opt = runner.optim_wrapper.optimizer.state_dict()
    assert opt['state'], 'optimizer state did not come back'
    for idx, st in saved['optimizer']['state'].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                assert torch.equal(opt['state'][idx][name], value)


def test_resume_through_cli_continues_to_max_iters(trained, tmp_path):
    wd = str(tmp_path / 'work')
    os.makedirs(wd)
    src = osp.join(trained['work_dir'], 'iter_2.pth')
    run([PY, osp.join(REPO, 'tools/train.py'), trained['cfg'], '--work-dir',
         wd, '--resume', src], cwd=trained['root'])
    ckpt = torch.load(osp.join(wd, 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4
    assert not osp.exists(osp.join(wd, 'iter_2.pth'))  # started at 2


def test_missing_and_corrupt_checkpoints_name_the_file(trained, tmp_path):
    missing = str(tmp_path / 'missing.pth')
    proc = subprocess.run(
        [PY, osp.join(REPO, 'tools/train.py'), trained['cfg'], '--resume',
         missing], cwd=trained['root'], capture_output=True, text=True)
    assert proc.returncode != 0 and missing in proc.stderr
    corrupt = tmp_path / 'corrupt.pth'
    data = open(osp.join(trained['work_dir'], 'iter_2.pth'), 'rb').read()
    corrupt.write_bytes(data[:len(data) // 3])
    proc = subprocess.run(
        [PY, osp.join(REPO, 'tools/test.py'), trained['cfg'], str(corrupt),
         '--work-dir', str(tmp_path / 'w')],
        cwd=trained['root'], capture_output=True, text=True)
    assert proc.returncode != 0
    assert f'cannot load checkpoint {corrupt}' in proc.stderr


def test_test_tool_picks_combinations(trained, tmp_path):
    wd = str(tmp_path / 'test')
    run([PY, osp.join(REPO, 'tools/test.py'), trained['cfg'],
         osp.join(trained['work_dir'], 'iter_4.pth'), '--work-dir', wd,
         '--modalities', 'depth'], cwd=trained['root'])
    files = glob.glob(osp.join(wd, '*', 'combination_metrics_test*.json'))
    assert len(files) == 1
    text = open(files[0]).read()
    record = json.loads(text)
    assert 'depth' in text and 'rgb+depth' not in text, record


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_processes(trained, tmp_path):
    wd = str(tmp_path / 'dist')
    run(['bash', osp.join(REPO, 'tools/dist_train.sh'), trained['cfg'], '2',
         '--work-dir', wd, '--cfg-options', 'log_level=DEBUG'],
        cwd=trained['root'],
        env=dict(PYTHON=PY, PORT=str(_free_port()), OMP_NUM_THREADS='1'))
    # both ranks logged every training iteration (DEBUG keeps each rank's
    # log); DDP's gradient all-reduce would hang if one had not taken part
    for rank in (0, 1):
        logs = glob.glob(osp.join(wd, '*', f'*rank{rank}.log'))
        assert len(logs) == 1, f'no log of rank {rank}'
        text = open(logs[0]).read()
        assert text.count('Iter(train) [') == 4, rank
        assert 'Iter(train) [4/4]' in text
    assert 'GPU number: 2' in text and 'MMDistributedDataParallel' in text
    # the checkpoint is written once, by rank 0
    assert sorted(os.listdir(wd)).count('iter_4.pth') == 1
    ckpt = torch.load(osp.join(wd, 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4


def test_mmseg_own_train_tool_with_inherited_config(trained, tmp_path):
    import mmseg
    tool = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    if not osp.isfile(tool):
        pytest.skip('this mmsegmentation install ships no tools/train.py')
    cfg = write_user_config(str(tmp_path), osp.join(trained['root'], 'data'),
                            max_iters=2)
    wd = str(tmp_path / 'mmseg_wd')
    run([PY, tool, cfg, '--work-dir', wd], cwd=str(tmp_path))
    assert osp.isfile(osp.join(wd, 'iter_2.pth'))
