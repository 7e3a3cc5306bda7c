"""tools/analysis/noise_sweep.py: the fixed-level evaluation noise (the
training transform, placed in the test pipeline where training has it; l = 1
leaves the input unchanged, l = 11 replaces RGB by noise), and the sweep end
to end on UDML / ModDrop+noise classification checkpoints (untrained,
seeded) of a tiny test split over two seeds: every number of the table and
the JSON against the test records, the clean run against the runs' own test
records, the cache, and the refusals."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools', 'analysis')


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return _load('noise_sweep')


def tiny_config(folder, base, data_root):
    """``base`` with 4 training and 4 test images."""
    small = dict(data_root=data_root, num_train=4, num_val=2, num_test=4)
    path = osp.join(folder, osp.basename(base))
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(REPO, "configs", base)!r}]\n'
                f'small = {small!r}\n'
                'train_dataloader = dict(batch_size=2, dataset=small)\n'
                'val_dataloader = dict(batch_size=4, num_workers=0, '
                'dataset=small)\n'
                'test_dataloader = val_dataloader\n'
                'default_hooks = dict(logger=dict(interval=1))\n')
    return path


def _sample(cfg, index=0):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    init_default_scope(cfg.get('default_scope'))
    return DATASETS.build(cfg.test_dataloader.dataset)[index]['inputs']


def test_fixed_level_noise_in_the_test_pipeline(tool, swept):
    from mm_incomplete.utils.launch import load_config
    cfg_path = swept['cfgs']['udml']
    clean = _sample(load_config(cfg_path)).numpy()
    levels = {}
    for level in (1, 11):
        cfg = load_config(cfg_path)
        tool.add_test_noise(cfg, tool.noise_step('rgb', level, 11,
                                                 ('depth', ), seed=0))
        types = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
        assert types == ['LoadMultiModalImages', 'MultiModalNoiseInjection',
                         'PackMultiModalClsInputs']
        levels[level] = _sample(cfg).numpy()
    assert np.array_equal(levels[1], clean)   # l = 1: untouched
    rgb, depth = levels[11][:3], levels[11][3]
    assert np.array_equal(depth, clean[3])    # the other modality clean
    # l = 11: RGB replaced by uniform noise on 0..255, unrelated to the image
    assert not np.allclose(rgb, clean[:3])
    assert rgb.min() >= 0 and rgb.max() <= 255
    assert rgb.mean() == pytest.approx(127.5, abs=8)
    assert rgb.std() == pytest.approx(255 / 12**0.5, rel=0.08)
    assert abs(np.corrcoef(rgb.ravel(), clean[:3].ravel())[0, 1]) < 0.05
    # the same noise seed gives the same noisy sample
    cfg = load_config(cfg_path)
    tool.add_test_noise(cfg, tool.noise_step('rgb', 11, 11, ('depth', ),
                                             seed=0))
    assert np.array_equal(_sample(cfg).numpy(), levels[11])


def test_noise_goes_where_training_has_it(tool):
    train = [dict(type='Load'), dict(type='Resize'), dict(type='Crop'),
             dict(type='MultiModalNoiseInjection'), dict(type='Pad'),
             dict(type='Pack')]
    # after the test resize, before padding
    test = [dict(type='Load'), dict(type='Resize'), dict(type='Pad'),
            dict(type='Pack')]
    assert tool.noise_position(train, test) == 2
    # no noise in training: before the pack step
    assert tool.noise_position(
        [dict(type='Load'), dict(type='PackX')],
        [dict(type='Load'), dict(type='Resize'), dict(type='PackX')]) == 2
    with pytest.raises(ValueError, match='normalises'):
        tool.noise_position(train, [dict(type='Normalize'),
                                    dict(type='Pack')])
    with pytest.raises(ValueError, match='cannot place the noise'):
        tool.noise_position(train, [dict(type='Load')])


def _checkpoint(config, seed, path):
    """An untrained model of ``config`` (seeded), saved as the runner saves
    it (state dict and the layout in the meta)."""
    import torch
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    from mm_incomplete.engine.hooks.checkpoint_guard_hook import (
        LAYOUT_KEY, layout_meta, model_layout)
    from mm_incomplete.utils.launch import load_config
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = MODELS.build(load_config(config).model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(),
                    meta={LAYOUT_KEY: layout_meta(model_layout(model))}),
               path)
    return path


def _write_run(folder, config, seed, record=None):
    """A compare_seeds run.json (config, seed, options, checkpoint,
    record)."""
    os.makedirs(folder, exist_ok=True)
    run = dict(config=config, seed=seed, options={},
               checkpoint=_checkpoint(config, seed,
                                      osp.join(folder, 'iter_2.pth')),
               record=record)
    with open(osp.join(folder, 'run.json'), 'w') as f:
        json.dump(run, f)
    return run


@pytest.fixture(scope='module')
def swept(tool, tmp_path_factory):
    root = tmp_path_factory.mktemp('sweep')
    data = str(root / 'data')
    cfgs = {name: tiny_config(str(root), base, data) for name, base in (
        ('udml', 'udml/synthetic_cls_cpu.py'),
        ('base', 'udml/synthetic_cls_moddrop_noise_cpu.py'))}
    # the baseline with seed 0 only: compared over the common seeds
    for name, seeds in (('base', [0]), ('udml', [0, 1])):
        for seed in seeds:
            _write_run(str(root / 'runs' / name / f'seed{seed}'),
                       cfgs[name], seed)
    runs = {n: str(root / 'runs' / n / 'seed*' / 'run.json') for n in cfgs}
    argv = ['--method', 'ModDrop+noise', runs['base'],
            '--method', 'UDML', runs['udml'], '--levels', '1', '11',
            '--noisy', 'rgb', '--work-dir', str(root / 'sweep'), '--out',
            str(root / 'out' / 'res')]
    cwd = os.getcwd()
    os.chdir(root)
    try:
        results = tool.main(argv)
    finally:
        os.chdir(cwd)
    return dict(root=root, argv=argv, runs=runs, results=results,
                cfgs=cfgs)


def _records(swept, name, seeds, setting):
    """The cached test records of the sweep, one per seed."""
    out = []
    folder = osp.splitext(osp.basename(swept['cfgs'][name]))[0]
    for seed in seeds:
        found = list((swept['root'] / 'sweep' / folder / f'seed{seed}').glob(
            f'{setting}_*.json'))
        assert len(found) == 1, found
        out.append(json.loads(found[0].read_text()))
    return out


def test_outputs_against_the_records(swept):
    root = swept['root']
    with open(root / 'out' / 'res.json') as f:
        out = json.load(f)
    assert out['metric'] == 'accuracy/top1' and out['levels'] == [1, 11]
    assert out['noisy'] == ['rgb'] and out['max_level'] == 11
    assert list(out['methods']) == ['ModDrop+noise', 'UDML']
    combos = ['rgb+depth', 'rgb', 'depth', 'mean']
    for label, key, seeds in (('ModDrop+noise', 'base', [0]),
                              ('UDML', 'udml', [0, 1])):
        res = out['methods'][label]
        assert res['seeds'] == seeds
        assert set(res['settings']) == {'clean', 'rgb@11'}
        clean = res['settings']['clean']
        assert clean['combinations'] == combos and clean['noise'] is None
        # the per-seed values are the records the test loop wrote
        for setting in ('clean', 'rgb@11'):
            recs = _records(swept, key, seeds, setting)
            for combo in combos:
                assert res['settings'][setting]['per_seed'][combo] == [
                    r['metrics'][combo]['accuracy/top1'] for r in recs]
        noisy = res['settings']['rgb@11']
        assert noisy['noise']['fixed_levels'] == {'rgb': 11}
        # depth alone never sees the noisy RGB: the clean numbers
        assert noisy['per_seed']['depth'] == clean['per_seed']['depth']
    us = out['methods']['UDML']['settings']
    for setting in ('clean', 'rgb@11'):
        for combo in combos:
            vals = us[setting]['per_seed'][combo]
            assert us[setting]['summary'][combo] == pytest.approx(
                dict(mean=np.mean(vals), std=np.std(vals, ddof=1)))
    # compared over the seeds both have (0): one seed, no verdict
    cmp = out['methods']['UDML']['vs_baseline']['rgb@11']
    b = out['methods']['ModDrop+noise']['settings']['rgb@11']
    assert cmp['seeds'] == [0]
    assert cmp['full']['difference'] == pytest.approx(
        us['rgb@11']['per_seed']['rgb+depth'][0] -
        b['per_seed']['rgb+depth'][0])
    assert cmp['mean']['verdict'] == 'undecided (one seed)'
    # the markdown: the command; the l = 1 column is the clean value
    md = (root / 'out' / 'res.md').read_text()
    assert md.startswith('`python tools/analysis/noise_sweep.py --method ')
    row = next(line for line in md.splitlines()
               if line.startswith('| UDML | depth |'))
    cells = [c.strip() for c in row.strip('|').split('|')][2:]
    assert cells == [f'{us[s]["summary"]["depth"]["mean"]:.2f} ± '
                     f'{us[s]["summary"]["depth"]["std"]:.2f}'
                     for s in ('clean', 'rgb@11')]
    assert f'| rgb@11 | {cmp["full"]["difference"]:+.2f} | undecided' in md
    for png in ('res.png', 'res_clean.png'):
        with open(root / 'out' / png, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_cache_and_the_clean_check(tool, swept, monkeypatch):
    root = swept['root']
    cwd = os.getcwd()
    os.chdir(root)
    try:
        # finished evaluations are reused: no runner is built again
        monkeypatch.setattr(tool.compare_seeds, 'build_runner', None)
        again = tool.main(swept['argv'])
        assert again['UDML']['settings'] == \
            swept['results']['UDML']['settings']
        # run.json with the run's own clean test record: reproduced ...
        record, = _records(swept, 'udml', [1], 'clean')
        folder = str(root / 'runs' / 'udml' / 'seed1')
        with open(osp.join(folder, 'run.json')) as f:
            run = json.load(f)
        run['record'] = record
        with open(osp.join(folder, 'run.json'), 'w') as f:
            json.dump(run, f)
        tool.main(swept['argv'])
        # ... and a record the clean test does not reproduce is refused
        run['record']['metrics']['rgb']['accuracy/top1'] += 5.0
        with open(osp.join(folder, 'run.json'), 'w') as f:
            json.dump(run, f)
        with pytest.raises(RuntimeError, match="UDML seed 1 .*clean test "
                           "gives .* for 'rgb', its run.json record"):
            tool.main(swept['argv'])
    finally:
        run['record'] = None
        with open(osp.join(folder, 'run.json'), 'w') as f:
            json.dump(run, f)
        os.chdir(cwd)


def test_refusals_name_the_option(tool, swept):
    with pytest.raises(SystemExit, match='exceed max_level 11'):
        tool.main(['--method', 'X', swept['runs']['udml'], '--levels', '12',
                   '--out', str(swept['root'] / 'out' / 'bad')])
    with pytest.raises(FileNotFoundError, match='no file matches'):
        tool.main(['--method', 'X', str(swept['root'] / 'nothing*.json'),
                   '--out', str(swept['root'] / 'out' / 'bad')])
    with pytest.raises(ValueError, match='neither a run.json nor'):
        tool.main(['--method', 'X', 'config.py', '--out', 'bad'])
