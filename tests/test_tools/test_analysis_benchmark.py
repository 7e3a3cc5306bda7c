"""tools/analysis/benchmark.py --quick: runs, writes its JSON with ratios.

No timing is asserted (the machine is shared); FLOP ratios are exact
properties of the models and are checked.
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch

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


def test_throughput_fields(bench, tmp_path):
    out = str(tmp_path / 'b.json')
    args = bench.parse_args(['--quick', '--out', out])
    args.cases = {k: args.cases[k] for k in ('rgb_single_branch',
                                              'multi_branch_full')}
    res = bench.bench_train(args, 'cpu')
    for r in res.values():
        assert r['flop_per_step'] > 0
        assert r['flop_per_s'] == pytest.approx(
            r['flop_per_step'] / (r['ms'] / 1000.0))
        # GPU-only measurements
        assert r['gpu_busy'] is None and r['syncs_per_step'] is None
    assert res['multi_branch_full']['flop_per_step'] > \
        res['rgb_single_branch']['flop_per_step']

    # --amp / --channels-last: the same FLOPs, convolutions in bf16 and
    # channels_last; the setting is recorded
    args_amp = bench.parse_args(['--quick', '--amp', '--channels-last'])
    args_amp.cases = {'rgb_single_branch': args.cases['rgb_single_branch']}
    steps, models = bench.make_train_steps(args_amp, 'cpu')
    model = models['rgb_single_branch']
    conv = model.backbone.conv1 if hasattr(model.backbone, 'conv1') else \
        next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    handle = conv.register_forward_hook(
        lambda m, i, o: seen.append((o.dtype, o.is_contiguous(
            memory_format=torch.channels_last))))
    log_vars = steps['rgb_single_branch']()
    handle.remove()
    assert seen == [(torch.bfloat16, True)]
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log_vars.values())
    amp = bench.bench_train(args_amp, 'cpu')['rgb_single_branch']
    assert amp['flop_per_step'] == res['rgb_single_branch']['flop_per_step']

    # without the options: fp32, contiguous NCHW
    steps, models = bench.make_train_steps(args, 'cpu')
    conv = next(m for m in models['rgb_single_branch'].modules()
                if isinstance(m, torch.nn.Conv2d))
    seen = []
    conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    steps['rgb_single_branch']()
    assert seen == [torch.float32]


def test_union_ns(bench):
    assert bench.union_ns([]) == 0
    # [0, 10) + [5, 12) overlap -> 12; [20, 25) apart -> 5; nested ignored
    assert bench.union_ns([(20, 25), (0, 10), (5, 12), (2, 3)]) == 17
    assert bench.union_ns([(0, 5), (5, 7)]) == 7
    with pytest.raises(ValueError, match='ends before it starts'):
        bench.union_ns([(5, 1)])


def test_report_marks_gpu_fields_absent_on_cpu(bench):
    row = dict(ms=10.0, ratio_to_rgb=1.0, params_m=1.0, peak_mem_mb=1.0,
               flop_per_step=2e9, flop_per_s=2e11, gpu_busy=None,
               syncs_per_step=None)
    result = dict(settings=dict(batch_size=2, size=[64, 64]),
                  devices=dict(cpu=dict(train_step=dict(rgb=row), eval={})))
    line = [x for x in bench.format_report(result).splitlines()
            if x.startswith('rgb')][0]
    assert line.split()[-4:] == ['2.00', '0.200', '-', '-']
    row.update(gpu_busy=0.375, syncs_per_step=55)
    line = [x for x in bench.format_report(result).splitlines()
            if x.startswith('rgb')][0]
    assert line.split()[-2:] == ['0.38', '55']


def test_a_distiller_case_runs_with_its_teacher_at_init(bench, capsys):
    """`--case mmanet=mmanet/synthetic_seg_cpu.py`: the distiller's teacher
    checkpoint is not there (nor read); the student's preprocessor is padded
    and seeded, the batch follows the student, and a step trains."""
    from mmengine.optim import OptimWrapper
    args = bench.parse_args(['--quick', '--case',
                             'mmanet=mmanet/synthetic_seg_cpu.py'])
    cfg = args.cases['mmanet'](args)
    assert not osp.isfile(cfg['teacher_ckpt'])
    pre = cfg['student']['data_preprocessor']
    assert tuple(pre['size']) == (64, 64)
    assert pre['train_sampler']['seed'] == 0
    model = bench.build_model(cfg, 'cpu').train()
    assert 'not read' in capsys.readouterr().out
    batch = bench.make_batch(model, args)
    assert batch['inputs'][0].shape == (4, 64, 64)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    losses = model.train_step(bench.clone_batch(batch), optim)
    # the teacher ran: MMANet's margin-aware distillation terms are there
    assert {'loss_mad_context', 'loss_mad_skip16', 'loss_mad_skip8'} <= \
        set(losses), sorted(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
