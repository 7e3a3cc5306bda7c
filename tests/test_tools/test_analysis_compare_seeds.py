"""tools/analysis/compare_seeds.py end to end on tiny configs.

Two methods over two seeds: the full-modality model (MMANet's teacher
config) as the baseline, and MMANet as a teacher => student chain whose
teacher is that same run; every number of the table and the JSON is checked
against the test records the runs wrote.
"""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis', 'compare_seeds.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('compare_seeds', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_config(folder, base, data_root):
    """A config that inherits ``base`` with 4 training images."""
    small = dict(data_root=data_root, num_train=4, num_val=2, num_test=2)
    path = osp.join(folder, osp.basename(base))
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(REPO, "configs", base)!r}]\n'
                f'small = {small!r}\n'
                'train_dataloader = dict(batch_size=2, num_workers=0, '
                'dataset=small)\n'
                'val_dataloader = dict(batch_size=2, num_workers=0, '
                'dataset=small)\n'
                'test_dataloader = val_dataloader\n'
                'default_hooks = dict(logger=dict(interval=1), '
                'visualization=dict(draw=False))\n')
    return path


def tiny_schedule(folder):
    """2 iterations, no validation, constant learning rate."""
    path = osp.join(folder, 'tiny_schedule.py')
    with open(path, 'w') as f:
        f.write('train_cfg = dict(max_iters=2, val_interval=100)\n'
                'param_scheduler = []\n'
                'default_hooks = dict(checkpoint=dict(interval=2, '
                'save_best=None))\n')
    return path


@pytest.fixture(scope='module')
def compared(tool, tmp_path_factory):
    root = tmp_path_factory.mktemp('compare')
    data = str(root / 'data')
    cfgs = {name: tiny_config(str(root), base, data) for name, base in (
        ('teacher', 'mmanet/synthetic_seg_teacher_cpu.py'),
        ('mmanet', 'mmanet/synthetic_seg_cpu.py'))}
    argv = [cfgs['teacher'], f'{cfgs["teacher"]}=>{cfgs["mmanet"]}',
            '--seeds', '0', '1', '--labels', 'Full', 'MMANet',
            '--schedule', tiny_schedule(str(root)),
            '--work-dir', str(root / 'work'), '--out', str(root / 'res')]
    cwd = os.getcwd()
    os.chdir(root)
    try:
        results = tool.main(argv)
    finally:
        os.chdir(cwd)
    return dict(root=root, cfgs=cfgs, argv=argv, results=results)


def test_outputs_equal_the_test_records(compared):
    root = compared['root']
    with open(root / 'res.json') as f:
        out = json.load(f)
    assert out['metric'] == 'mIoU' and out['seeds'] == [0, 1]
    assert list(out['methods']) == ['Full', 'MMANet']
    for label, res in out['methods'].items():
        assert res['combinations'] == ['rgb+depth', 'rgb', 'depth', 'mean']
        assert len(res['record_paths']) == 2
        records = []
        for path in res['record_paths']:
            with open(path) as f:
                records.append(json.load(f))
        assert [r['stage'] for r in records] == ['test', 'test']
        for combo in res['combinations']:
            vals = [r['metrics'][combo]['mIoU'] for r in records]
            assert res['per_seed'][combo] == vals
            assert res['summary'][combo]['mean'] == pytest.approx(
                np.mean(vals))
            assert res['summary'][combo]['std'] == pytest.approx(
                np.std(vals, ddof=1))
    md = (root / 'res.md').read_text()
    assert md.startswith('`python tools/analysis/compare_seeds.py ')
    mm = out['methods']['MMANet']
    row = next(line for line in md.splitlines()
               if line.startswith('| MMANet |'))
    cells = [c.strip() for c in row.strip('|').split('|')][1:]
    assert cells == [f'{mm["summary"][c]["mean"]:.2f} ± '
                     f'{mm["summary"][c]["std"]:.2f}'
                     for c in mm['combinations']]
    diff = np.asarray(mm['per_seed']['mean']) - np.asarray(
        out['methods']['Full']['per_seed']['mean'])
    cmp = mm['vs_baseline']
    assert cmp['difference'] == pytest.approx(diff.mean())
    assert cmp['difference_std'] == pytest.approx(diff.std(ddof=1))
    assert f'- MMANet vs Full, mean over combinations: ' \
        f'{cmp["difference"]:+.2f} ± {cmp["difference_std"]:.2f}' in md
    assert md.rstrip().endswith(f': {cmp["verdict"]}.')
    with open(root / 'res.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_teacher_trained_first_and_handed_to_student(compared):
    work = compared['root'] / 'work'
    for seed in (0, 1):
        with open(work / 'synthetic_seg_cpu' / f'seed{seed}' /
                  'run.json') as f:
            student = json.load(f)
        teacher_ckpt = student['options']['model.teacher_ckpt']
        assert teacher_ckpt == str(work / 'synthetic_seg_teacher_cpu' /
                                   f'seed{seed}' / 'iter_2.pth')
        assert osp.isfile(teacher_ckpt)
        assert student['seed'] == seed


def test_rerun_reuses_and_changed_config_is_refused(tool, compared):
    root = compared['root']
    ckpt = root / 'work' / 'synthetic_seg_teacher_cpu' / 'seed0' / \
        'iter_2.pth'
    before = ckpt.stat().st_mtime_ns
    cwd = os.getcwd()
    os.chdir(root)
    try:
        again = tool.main(compared['argv'])
        assert ckpt.stat().st_mtime_ns == before  # not retrained
        assert again['MMANet']['per_seed'] == \
            compared['results']['MMANet']['per_seed']
        # a config resolving to the same config reuses the run, untrained
        alias = root / 'alias.py'
        alias.write_text(f'_base_ = [{compared["cfgs"]["teacher"]!r}]\n')
        same = tool.main([str(alias), '--seeds', '0', '1', '--work-dir',
                          str(root / 'work'), '--out', str(root / 'alias'),
                          '--schedule', tiny_schedule(str(root))])
        assert same['alias']['per_seed'] == \
            compared['results']['Full']['per_seed']
        assert not (root / 'work' / 'alias').exists()
        with pytest.raises(RuntimeError,
                           match='teacher_cpu/seed0 holds a run'):
            tool.main(compared['argv'] + ['--cfg-options',
                                          'optim_wrapper.optimizer.lr=0.1'])
    finally:
        os.chdir(cwd)


def test_schedule_is_checked(tool, tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('model = dict(type="X")\n')
    with pytest.raises(ValueError, match='a schedule defines train_cfg'):
        tool.load_schedule(str(bad))
    with pytest.raises(FileNotFoundError, match='--schedule'):
        tool.load_schedule(str(tmp_path / 'missing.py'))


def test_bad_specs_are_named(tool, tmp_path):
    with pytest.raises(FileNotFoundError, match='no config file'):
        tool.parse_spec(str(tmp_path / 'missing.py'))
    with pytest.raises(ValueError, match='TEACHER=>STUDENT'):
        tool.parse_spec('a.py=>b.py=>c.py')


def _fake_run(seed, **values):
    metrics = {c: {'mIoU': v} for c, v in values.items()}
    metrics['mean'] = {'mIoU': float(np.mean(list(values.values())))}
    return dict(seed=seed, record=dict(combinations=list(values),
                                       metrics=metrics))


def test_verdicts_by_hand(tool):
    base = tool.summarise([_fake_run(0, rgb=40.0, depth=20.0),
                           _fake_run(1, rgb=42.0, depth=22.0)], 'mIoU', 'b')
    assert base['per_seed']['mean'] == [30.0, 32.0]
    assert base['summary']['mean']['std'] == pytest.approx(2 ** 0.5)
    # +1 and +3 over the baseline: mean +2 > std of the differences 1.41
    up = tool.summarise([_fake_run(0, rgb=41.0, depth=21.0),
                         _fake_run(1, rgb=45.0, depth=25.0)], 'mIoU', 'u')
    cmp = tool.compare(up, base)
    assert cmp['verdict'] == 'beats' and cmp['difference'] == 2.0
    assert cmp['difference_std'] == pytest.approx(2 ** 0.5)
    # +3 and -1: mean +1 within the spread 2.83
    mixed = tool.summarise([_fake_run(0, rgb=43.0, depth=23.0),
                            _fake_run(1, rgb=41.0, depth=21.0)], 'mIoU', 'm')
    assert tool.compare(mixed, base)['verdict'] == 'within spread'
    assert tool.compare(base, up)['verdict'] == 'does not beat'
    # one seed: no spread, no verdict, no ± in the table
    one = tool.summarise([_fake_run(0, rgb=41.0, depth=21.0)], 'mIoU', 'o')
    one_base = tool.summarise([_fake_run(0, rgb=40.0, depth=20.0)], 'mIoU',
                              'b')
    assert one['summary']['rgb']['std'] is None
    one['vs_baseline'] = tool.compare(one, one_base)
    assert one['vs_baseline']['verdict'] == 'undecided (one seed)'
    md = tool.markdown(dict(B=one_base, O=one), 'mIoU', [0], 'B', 'cmd')
    assert '| O | 41.00 | 21.00 | 31.00 |' in md
    assert '- O vs B, mean over combinations: +1.00 (per seed +1.00): ' \
        'undecided (one seed).' in md
    with pytest.raises(KeyError, match="seed 0 .* no 'aAcc'"):
        tool.summarise([_fake_run(0, rgb=1.0)], 'aAcc', 'x')


def test_schedule_keeps_the_configs_combinations(tool, capsys):
    """The comparison schedule sets combinations='all'; merged as is it
    would test the RGB-only student under `depth` (which it cannot run) and
    the depth-only teacher under `rgb` (a branch it never trained)."""
    sched_file = osp.join(REPO, 'configs', '_base_', 'schedules',
                          'cpu_seg_600it.py')
    sched = tool.load_schedule(sched_file)
    assert 'combinations' not in sched['val_cfg']
    assert 'combinations' not in sched['test_cfg']
    assert sched['train_cfg']['max_iters'] == 600
    assert "test_cfg.combinations='all' not merged" in capsys.readouterr().out
    seen = {}
    for rel, combos in (
            ('onestage/synthetic_seg_rgb_only_cpu.py', 'rgb'),
            ('onestage/synthetic_seg_cpu.py', 'rgb'),
            ('onestage/synthetic_seg_depth_teacher_cpu.py', 'depth'),
            ('baselines/multi_branch_full_synthetic_seg_cpu.py', 'all')):
        cfg, fp = tool._build_cfg(osp.join(REPO, 'configs', rel), 0, {},
                                  'wd/x', 'test', sched)
        assert cfg.test_cfg.combinations == combos, rel
        assert cfg.val_cfg.combinations == combos, rel
        assert cfg.train_cfg.max_iters == 600, rel
        seen[rel] = fp
    # for a config that evaluates every combination the resolved config is
    # the one the whole schedule gives (its finished runs stay reusable)
    from mmengine.config import Config

    from mm_incomplete.utils.launch import load_config
    whole = load_config(osp.join(
        REPO, 'configs', 'baselines',
        'multi_branch_full_synthetic_seg_cpu.py'))
    whole.merge_from_dict(Config.fromfile(sched_file).to_dict())
    whole.merge_from_dict({'randomness.seed': 0})
    assert tool._fingerprint(whole) == \
        seen['baselines/multi_branch_full_synthetic_seg_cpu.py']


def test_compare_on_the_shared_combinations(tool):
    """RGB-only models against the RGB-D model compare `rgb`; a depth-only
    teacher shares nothing with them and is not compared."""
    rgb_only = tool.summarise([_fake_run(0, rgb=30.0),
                               _fake_run(1, rgb=32.0)], 'mIoU', 'r')
    rgbd = tool.summarise(
        [_fake_run(0, **{'rgb+depth': 40.0, 'rgb': 29.0, 'depth': 20.0}),
         _fake_run(1, **{'rgb+depth': 42.0, 'rgb': 33.0, 'depth': 21.0})],
        'mIoU', 'f')
    teacher = tool.summarise([_fake_run(0, depth=22.0),
                              _fake_run(1, depth=23.0)], 'mIoU', 't')
    cmp = tool.compare(rgbd, rgb_only)
    assert cmp['over'] == 'on rgb' and cmp['shared'] == ['rgb']
    assert cmp['per_seed_difference'] == [-1.0, 1.0]  # not 33 - 30 etc.
    assert cmp['verdict'] == 'does not beat' and cmp['difference'] == 0.0
    two = tool.summarise([_fake_run(0, rgb=31.0, depth=30.0),
                          _fake_run(1, rgb=35.0, depth=31.0)], 'mIoU', 'w')
    cmp2 = tool.compare(two, rgbd)
    assert cmp2['over'] == 'mean over rgb, depth'
    assert cmp2['per_seed_difference'] == pytest.approx(
        [(31 + 30 - 29 - 20) / 2, (35 + 31 - 33 - 21) / 2])
    none = tool.compare(teacher, rgb_only)
    assert none['verdict'] == 'no common combination'
    assert none['difference'] is None
    results = dict(R=rgb_only, F=dict(rgbd, vs_baseline=cmp),
                   T=dict(teacher, vs_baseline=none))
    md = tool.markdown(results, 'mIoU', [0, 1], 'R', 'cmd')
    assert '| T | - | - | 22.50 ± 0.71 | 22.50 ± 0.71 |' in md
    assert '- F vs R, on rgb: +0.00 ± 1.41 (per seed -1.00, +1.00): ' \
        'does not beat.' in md
    assert '- T vs R: no combination in common, not compared.' in md


def test_compare_on_one_combination_by_hand(tool):
    """The modality-competition reading: each head alone, paired by seed
    over the seeds both have; a combination one side lacks is named."""
    joint = tool.summarise(
        [_fake_run(s, **{'rgb+depth': 50.0 + s, 'rgb': 40.0 + s,
                         'depth': 20.0}) for s in (0, 1, 2)], 'mIoU', 'j')
    joint['seeds'] = [0, 1, 2]
    detached = tool.summarise(
        [_fake_run(s, **{'rgb+depth': 50.0, 'rgb': 40.0 + 2 * s,
                         'depth': 25.0 - s}) for s in (2, 0)], 'mIoU', 'd')
    detached['seeds'] = [2, 0]
    rgb = tool.compare_on(detached, joint, 'rgb')
    # seed 2: 44 - 42, seed 0: 40 - 40
    assert rgb['over'] == 'on rgb' and rgb['seeds'] == [2, 0]
    assert rgb['per_seed_difference'] == [2.0, 0.0]
    assert rgb['verdict'] == 'within spread'  # mean 1 < std 1.41
    depth = tool.compare_on(detached, joint, 'depth')
    assert depth['per_seed_difference'] == [3.0, 5.0]
    assert depth['verdict'] == 'beats'
    mean = tool.compare_on(detached, joint, 'mean')
    assert mean['over'] == 'mean over combinations'
    assert mean['per_seed_difference'] == pytest.approx(
        [(50 + 44 + 23 - 52 - 42 - 20) / 3, (50 + 40 + 25 - 50 - 40 - 20) / 3])
    rgb_only = tool.summarise([_fake_run(0, rgb=30.0)], 'mIoU', 'r')
    rgb_only['seeds'] = [0]
    lacking = tool.compare_on(rgb_only, joint, 'depth')
    assert lacking['difference'] is None
    assert lacking['verdict'] == 'depth not evaluated by the method'
    results = dict(J=joint, D=dict(detached, vs_baseline=mean,
                                   vs_baseline_on=dict(rgb=rgb, depth=depth)),
                   R=dict(rgb_only,
                          vs_baseline=tool.compare_on(rgb_only, joint, 'rgb'),
                          vs_baseline_on=dict(depth=lacking)))
    md = tool.markdown(results, 'mIoU', [0, 1, 2], 'J', 'cmd')
    assert '- D vs J, on depth: +4.00 ± 1.41 (per seed +3.00, +5.00): ' \
        'beats.' in md
    assert '- D vs J, on rgb: +1.00 ± 1.41 (per seed +2.00, +0.00): ' \
        'within spread.' in md
    assert '- R vs J: depth not evaluated by the method, not compared.' in md
    assert mean['shared'] == ['rgb+depth', 'rgb', 'depth']
    # an RGB-only mean against an every-combination mean: not comparable
    with pytest.raises(ValueError, match=r"compare_on 'mean': the method's "
                       r"mean is over \['rgb'\], the baseline's over "
                       r"\['rgb\+depth', 'rgb', 'depth'\]"):
        tool.compare_on(rgb_only, joint, 'mean')
    with pytest.raises(ValueError, match="compare_on 'rgb': no seed"):
        tool.compare_on(rgb_only, dict(detached, seeds=[5, 6]), 'rgb')


def test_compare_on_from_the_command_line(tool, compared, monkeypatch):
    """Reuses the module's runs: the per-combination lines reach the table
    and the JSON; a combination the baseline never evaluated is refused."""
    root = compared['root']
    out = str(root / 'res_on')
    argv = [a if a != str(root / 'res') else out for a in compared['argv']]
    monkeypatch.chdir(root)
    results = tool.main(argv + ['--compare-on', 'rgb', 'depth'])
    with pytest.raises(SystemExit, match=r"--compare-on \['rbg'\]: "
                       "the baseline 'Full' evaluates"):
        tool.main(argv + ['--compare-on', 'rbg'])
    on = results['MMANet']['vs_baseline_on']
    assert list(on) == ['rgb', 'depth']
    for combo, cmp in on.items():
        m = results['MMANet']['per_seed'][combo]
        b = results['Full']['per_seed'][combo]
        assert cmp['per_seed_difference'] == pytest.approx(
            np.subtract(m, b).tolist())
    with open(out + '.md') as f:
        md = f.read()
    assert '- MMANet vs Full, on rgb: ' in md
    with open(out + '.json') as f:
        saved = json.load(f)
    assert saved['methods']['MMANet']['vs_baseline_on']['depth'] == \
        json.loads(json.dumps(on['depth']))
