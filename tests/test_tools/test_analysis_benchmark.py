"""tools/analysis/benchmark.py --quick: runs, writes its JSON with ratios.

No timing is asserted (the machine is shared); FLOP ratios are exact
properties of the models and are checked.
"""
import importlib.util
import json
import os.path as osp

import pytest

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis',
                'benchmark.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_ratios(bench, tmp_path, capsys):
    out = str(tmp_path / 'bench' / 'b.json')
    bench.main(['--quick', '--devices', 'cpu', '--out', out])
    with open(out) as f:
        result = json.load(f)
    assert result['settings']['size'] == [64, 64]
    cpu = result['devices']['cpu']
    train = cpu['train_step']
    assert set(train) == {'rgb_single_branch', 'early_fusion',
                          'multi_branch_full', 'multi_branch_moddrop'}
    assert train['rgb_single_branch']['ratio_to_rgb'] == 1.0
    for r in train.values():
        assert r['ms'] > 0 and r['ratio_to_rgb'] > 0
        assert r['peak_mem_mb'] > 0
    # one encoder per modality: more parameters than the RGB model
    assert train['multi_branch_full']['params_m'] > \
        train['rgb_single_branch']['params_m']

    mb = cpu['eval']['multi_branch_moddrop']
    assert mb['combinations'] == ['rgb+depth', 'rgb', 'depth']
    assert mb['encoder_reused'] is True
    for key in ('ratio_shared', 'ratio_separate', 'floor_ratio',
                'shared_over_floor', 'flop_floor_ratio'):
        assert mb[key] > 0
    # the loop's path runs exactly the modules of the floor, no more
    assert mb['flop_ratio_shared'] == pytest.approx(mb['flop_floor_ratio'])
    assert 1.0 < mb['flop_ratio_shared'] < mb['flop_ratio_separate'] < 3.0
    assert set(mb['part_ms']) == {'preprocess', 'encode', 'tail:rgb+depth',
                                  'tail:rgb', 'tail:depth'}

    ef = cpu['eval']['early_fusion']
    assert ef['encoder_reused'] is False
    # nothing can be reused: every combination is a full pass
    assert ef['flop_ratio_shared'] == pytest.approx(3.0)
    assert ef['flop_ratio_separate'] == pytest.approx(3.0)

    table = capsys.readouterr().out
    assert 'x rgb' in table and 'multi_branch_moddrop' in table


def test_bad_options(bench, tmp_path):
    with pytest.raises(SystemExit):
        bench.parse_args(['--batch-size', '1'])
    with pytest.raises(SystemExit):
        bench.parse_args(['--eval', 'no_such_case'])
    with pytest.raises(SystemExit):
        bench.parse_args(['--case', 'no_equals_sign'])
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        bench.parse_args(['--case', f'x={tmp_path / "no_such.py"}'])


def test_cases_come_from_the_baseline_configs(bench):
    args = bench.parse_args(['--quick', '--case',
                             'again=baselines/early_fusion_synthetic_seg_cpu'
                             '.py'])
    assert 'again' in args.cases and 'again' not in bench.TRAIN_CASES
    cfgs = {n: f(args) for n, f in args.cases.items()}
    assert cfgs['rgb_single_branch']['type'] == 'EncoderDecoder'
    assert cfgs['rgb_single_branch']['backbone']['type'] == 'ResNet'
    assert cfgs['rgb_single_branch']['backbone']['in_channels'] == 3
    assert cfgs['early_fusion']['backbone']['type'] == 'EarlyFusionResNet'
    assert cfgs['multi_branch_full']['backbone']['type'] == \
        'MultiBranchResNet'
    assert cfgs['multi_branch_moddrop']['data_preprocessor'][
        'train_sampler'] == dict(type='ModDrop', drop_prob=0.5, seed=0)
    # same depth, width and stem everywhere; padded to the benchmark size
    for cfg in cfgs.values():
        bb = cfg['backbone']
        assert bb['depth'] == 18 and bb['base_channels'] == 16
        assert bb.get('stem_channels', 16) == 16
        assert tuple(cfg['data_preprocessor']['size']) == (64, 64)


def test_flops_only_nyud_preset_esanet_against_uperhead(bench, tmp_path,
                                                        capsys):
    out = str(tmp_path / 'flops.json')
    bench.main(['--preset', 'nyud', '--flops-only', '--size', '32', '32',
                '--batch-size', '2', '--devices', 'cpu', '--eval',
                'multi_branch_moddrop', 'multi_branch_moddrop_uper',
                '--out', out])
    res = json.load(open(out))['devices']['cpu']['flops']
    esa, uper = res['multi_branch_moddrop'], res['multi_branch_moddrop_uper']
    # the same two ResNet-50 encoders: ESANet's decoder is the lighter one
    assert esa['part_gflops_per_image']['encode'] == pytest.approx(
        uper['part_gflops_per_image']['encode'])
    assert esa['part_gflops_per_image']['tail:rgb+depth'] < \
        uper['part_gflops_per_image']['tail:rgb+depth']
    assert esa['gflops_per_image']['full'] < uper['gflops_per_image']['full']
    for r in (esa, uper):
        assert r['flop_ratio_shared'] == pytest.approx(r['flop_floor_ratio'])
    assert 1.0 < esa['flop_floor_ratio'] < uper['flop_floor_ratio']
    assert 'multi_branch_moddrop_uper' in capsys.readouterr().out
