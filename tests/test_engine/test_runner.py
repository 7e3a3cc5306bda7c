"""MultiModalRunner: atomic checkpoints, strict loading, NaN stops, schedules.

A toy model keeps these fast; the layout-order round trip trains a real
(tiny) early-fusion config.
"""
import errno
import glob
import os
import os.path as osp
import uuid

import mmengine.runner.runner as mmengine_runner
import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from mm_incomplete.engine import MultiModalRunner, keep_layout_order
from mm_incomplete.engine.hooks import AtomicCheckpointHook
from mm_incomplete.utils import config_path
from _tiny_runs import build_runner, ckpt, tiny_config


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """y = Linear(x); ``width`` changes the weights' shapes."""

    def __init__(self, width=2):
        super().__init__()
        self.linear = torch.nn.Linear(width, 1)
        self.width = width

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs[:, :self.width])
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


def toy_runner(work_dir, max_iters=6, interval=2, lr=0.1, width=2,
               max_keep=1, param_scheduler=None, **kwargs):
    gen = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(4, generator=gen),
                 labels=torch.randn(1, generator=gen)) for _ in range(16)]
    return MultiModalRunner(
        model=dict(type='ToyRegressor', width=width),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        param_scheduler=param_scheduler,
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=interval, max_keep_ckpts=max_keep),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        # a message hub of its own (runners built in the same second would
        # share one by their timestamp name)
        experiment_name=f'toy_{uuid.uuid4().hex}',
        **kwargs)


def _pth(work_dir):
    return sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '*'))
                  if 'pth' in osp.basename(p))


# -- item 10/13: a failed or killed save loses nothing --------------------
def test_checkpoint_hook_is_atomic_and_keeps_two(tmp_path):
    runner = toy_runner(tmp_path)
    assert any(isinstance(h, AtomicCheckpointHook) for h in runner.hooks)
    runner.train()
    # max_keep_ckpts=1 in the config is raised to 2; older ones deleted
    assert _pth(tmp_path) == ['iter_4.pth', 'iter_6.pth']
    assert open(tmp_path / 'last_checkpoint').read().endswith('iter_6.pth')


def _failing_save(exc):
    """mmengine's save_checkpoint that dies half-way through the write."""
    real = mmengine_runner.save_checkpoint
    calls = {'n': 0}

    def save(checkpoint, filename, **kwargs):
        calls['n'] += 1
        if calls['n'] < 2:
            return real(checkpoint, filename, **kwargs)
        with open(filename, 'wb') as f:
            f.write(b'\x80' * 1000)  # a truncated pickle
        raise exc

    return save


@pytest.mark.parametrize('exc', [
    OSError(errno.ENOSPC, 'No space left on device'),
    KeyboardInterrupt()
])
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, exc):
    monkeypatch.setattr(mmengine_runner, 'save_checkpoint',
                        _failing_save(exc))
    runner = toy_runner(tmp_path)
    with pytest.raises(type(exc)) as err:
        runner.train()
    # the truncated write never took a checkpoint's name
    assert _pth(tmp_path) == ['iter_2.pth']
    last = open(tmp_path / 'last_checkpoint').read()
    assert last.endswith('iter_2.pth')
    assert torch.load(last)['meta']['iter'] == 2  # complete and loadable
    if isinstance(exc, OSError):
        msg = str(err.value)
        assert f'cannot write checkpoint {tmp_path / "iter_4.pth"}' in msg
        assert 'No space left on device' in msg and ' free on ' in msg
        assert '1000.0 B were written' in msg
    # --resume picks up the checkpoint that survived
    monkeypatch.undo()
    resumed = toy_runner(tmp_path, resume=True)
    resumed.train()
    assert resumed.iter == 6


# -- item 4: NaN stops training before anything is saved ------------------
def test_non_finite_loss_stops_and_saves_nothing(tmp_path):
    runner = toy_runner(tmp_path, max_iters=40, interval=1, lr=1e6)
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    # whichever comes first: an infinite update (not saved) or a NaN loss
    assert 'non-finite loss at iteration' in msg and 'loss=' in msg or \
        'not saving a checkpoint at iteration' in msg, msg
    stop = int(msg.split('iteration ')[1].split(':')[0])
    assert 1 < stop < 40
    saved = _pth(tmp_path)
    assert saved, 'the finite iterations before were saved'
    for name in saved:
        ck = torch.load(tmp_path / name)
        assert all(torch.isfinite(v).all() for v in ck['state_dict'].values())
        assert ck['meta']['iter'] < stop


def test_nan_loss_hook_names_the_term(tmp_path):
    from mm_incomplete.engine.hooks import NonFiniteLossHook
    runner = toy_runner(tmp_path, max_iters=2)
    outputs = {'loss': torch.tensor(float('nan')),
               'decode.loss_ce': torch.tensor(float('nan')),
               'decode.acc_seg': torch.tensor(float('nan')),
               'aux.loss_kl': torch.tensor(0.5)}
    with pytest.raises(FloatingPointError) as err:
        NonFiniteLossHook().after_train_iter(runner, 0, None, outputs)
    msg = str(err.value)
    assert 'iteration 1: loss=nan, decode.loss_ce=nan.' in msg
    assert 'acc_seg' not in msg and 'loss_kl' not in msg


def test_non_finite_weights_are_never_saved(tmp_path):
    runner = toy_runner(tmp_path, max_iters=2)
    runner.train()
    with torch.no_grad():
        runner.model.linear.weight[0, 1] = float('nan')
    with pytest.raises(FloatingPointError, match='linear.weight'):
        runner.save_checkpoint(str(tmp_path), 'best_x.pth')
    assert not osp.exists(tmp_path / 'best_x.pth')
    assert not glob.glob(str(tmp_path / '.*partial'))


# -- item 3: another model's checkpoint is refused -------------------------
def test_checkpoint_of_another_model_is_refused(tmp_path):
    toy_runner(tmp_path / 'a', max_iters=2).train()
    other = ckpt(str(tmp_path / 'a'), 2)
    runner = toy_runner(tmp_path / 'b', width=3, load_from=other)
    with pytest.raises(ValueError, match='shape mismatches') as err:
        runner.load_or_resume()
    assert f'checkpoint {other} does not match' in str(err.value)
    assert 'linear.weight: checkpoint (1, 2) vs model (1, 3)' in str(
        err.value)
    # resume: refused before "resumed iter: 2"
    runner = toy_runner(tmp_path / 'c', width=3, load_from=other,
                        resume=True)
    with pytest.raises(ValueError, match='does not match'):
        runner.train()
    assert _pth(tmp_path / 'c') == []


def test_non_strict_guard_allows_fine_tuning(tmp_path):
    toy_runner(tmp_path / 'a', max_iters=2).train()
    runner = toy_runner(tmp_path / 'b', width=3,
                        load_from=ckpt(str(tmp_path / 'a'), 2),
                        custom_hooks=[dict(type='CheckpointGuardHook',
                                           strict=False)])
    runner.load_or_resume()  # mmengine's warnings only


# -- item 9: every shipped schedule's checkpoint loads under weights_only --
SCHEDULES = sorted(glob.glob(osp.join(
    osp.dirname(config_path('_base_/default_runtime_seg.py')), 'schedules',
    '*.py')))


@pytest.mark.parametrize('schedule', SCHEDULES, ids=osp.basename)
def test_shipped_schedule_checkpoints_load_weights_only(tmp_path, schedule):
    """Train 2 iterations with the schedule, load the checkpoint as
    tools/test.py does, resume it for a third: lr and weights equal an
    uninterrupted 3-iteration run's (OneCycle's ``anneal_func`` is rebuilt
    from the scheduler's arguments)."""
    scheds = Config.fromfile(schedule).param_scheduler
    full = toy_runner(tmp_path / 'full', max_iters=3, param_scheduler=scheds)
    full.train()
    path = ckpt(str(tmp_path / 'full'), 2)  # what a kill at 2-3 leaves
    saved = torch.load(path, weights_only=True)
    assert all('anneal_func' not in s for s in saved['param_schedulers'])
    assert len(saved['param_schedulers']) == len(scheds)
    tester = toy_runner(tmp_path / 'test', load_from=path)
    tester.load_checkpoint(path)  # the tools/test.py path
    resumed = toy_runner(tmp_path / 'resumed', max_iters=3,
                         param_scheduler=scheds, resume=True, load_from=path)
    resumed.train()
    assert resumed.iter == 3
    assert resumed.optim_wrapper.get_lr() == full.optim_wrapper.get_lr()
    for key, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


# -- item 1: the layout's order survives the dumped config ---------------
def test_keep_layout_order_rewrites_every_layout():
    cfg = Config(dict(modalities=dict(rgb=3, depth=1),
                      model=dict(backbone=dict(modalities=dict(rgb=3,
                                                               depth=1))),
                      other=dict(mean=dict(rgb=1, depth=2))))
    keep_layout_order(cfg)
    assert cfg.modalities == [['rgb', 3], ['depth', 1]]
    assert cfg.model.backbone.modalities == [['rgb', 3], ['depth', 1]]
    assert cfg.other.mean == dict(rgb=1, depth=2)  # not a layout key
    dumped = Config.fromstring(cfg.pretty_text, '.py')
    assert dumped.model.backbone.modalities == [['rgb', 3], ['depth', 1]]


@pytest.fixture(scope='module')
def early_fusion_run(tmp_path_factory, synthetic_root):
    work = str(tmp_path_factory.mktemp('early_fusion'))
    cfg = tiny_config('baselines/early_fusion_synthetic_seg_cpu.py', work,
                      synthetic_root, max_iters=2, interval=2)
    build_runner(cfg).train()
    return work


def _test_metrics(cfg, checkpoint, work_dir):
    cfg.load_from, cfg.work_dir = checkpoint, work_dir
    return build_runner(cfg).test()


def test_dumped_config_tests_like_the_original(early_fusion_run,
                                               synthetic_root, tmp_path):
    dumped = osp.join(early_fusion_run, 'early_fusion_synthetic_seg_cpu.py')
    cfg = Config.fromfile(dumped)
    assert cfg.model.data_preprocessor.modalities == [['rgb', 3],
                                                      ['depth', 1]]
    ck = ckpt(early_fusion_run, 2)
    assert torch.load(ck)['meta']['modality_layout'] == dict(
        names=['rgb', 'depth'], channels=[3, 1])
    original = tiny_config('baselines/early_fusion_synthetic_seg_cpu.py',
                           '', synthetic_root)
    want = _test_metrics(original, ck, str(tmp_path / 'a'))
    got = _test_metrics(cfg, ck, str(tmp_path / 'b'))
    assert got == want and 'rgb+depth/mIoU' in got


def test_checkpoint_layout_mismatch_is_an_error(early_fusion_run,
                                                synthetic_root, tmp_path):
    """What mmengine's sorted dump used to produce: depth, rgb."""
    cfg = tiny_config('baselines/early_fusion_synthetic_seg_cpu.py', '',
                      synthetic_root)
    swapped = dict(depth=1, rgb=3)
    cfg.model.data_preprocessor.modalities = swapped  # the backbone's too
    for t in cfg.test_dataloader.dataset.pipeline:
        if 'modalities' in t:
            t['modalities'] = swapped
    cfg.test_dataloader.dataset.modalities = swapped
    ck = ckpt(early_fusion_run, 2)
    with pytest.raises(ValueError) as err:
        _test_metrics(cfg, ck, str(tmp_path))
    msg = str(err.value)
    assert f'checkpoint {ck} was trained with the modality layout ' \
        "'rgb:3,depth:1', but the config builds 'depth:1,rgb:3'" in msg
    assert os.path.isfile(ck)


def test_checkpoint_of_another_config_is_refused_by_test(early_fusion_run,
                                                         synthetic_root,
                                                         tmp_path):
    """The early-fusion checkpoint tested with the multi-branch config (same
    layout): listed key mismatches instead of random layers."""
    cfg = tiny_config('baselines/multi_branch_full_synthetic_seg_cpu.py', '',
                      synthetic_root)
    ck = ckpt(early_fusion_run, 2)
    with pytest.raises(ValueError) as err:
        _test_metrics(cfg, ck, str(tmp_path))
    msg = str(err.value)
    assert f'checkpoint {ck} does not match the model' in msg
    assert 'missing keys' in msg and 'unexpected keys' in msg


@MODELS.register_module(force=True)
class ToyConvRegressor(BaseModel):
    """y = mean(Conv2d(x)); records its input/output memory formats."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.seen = []

    def forward(self, inputs, labels, mode='tensor'):
        out = self.conv(inputs.view(-1, 2, 2, 2))
        self.seen.append(out.is_contiguous(memory_format=torch.channels_last)
                         and not out.is_contiguous())
        out = out.mean((1, 2, 3))[:, None]
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


@pytest.mark.parametrize('channels_last', [True, False])
def test_channels_last_option(tmp_path, channels_last):
    gen = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(8, generator=gen),
                 labels=torch.randn(1, generator=gen)) for _ in range(8)]
    runner = MultiModalRunner(
        model=dict(type='ToyConvRegressor'), work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=data, sampler=dict(type='InfiniteSampler'),
            collate_fn=dict(type='default_collate'), batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=2),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           by_epoch=False, interval=2)),
        experiment_name=f'toy_{uuid.uuid4().hex}',
        cfg=dict(channels_last=channels_last))
    weight = runner.model.conv.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) == \
        channels_last
    runner.train()
    # every convolution ran in the chosen format
    assert runner.model.seen == [channels_last] * 2


def test_channels_last_must_be_bool(tmp_path):
    with pytest.raises(TypeError, match="`channels_last` must be True or "
                       "False, got 'yes'"):
        toy_runner(tmp_path, cfg=dict(channels_last='yes'))


@pytest.mark.parametrize('cuda', [True, False])
def test_pinned_batches_and_non_blocking_copies_where_cuda(
        tmp_path, monkeypatch, cuda):
    import mm_incomplete.engine.runner as runner_module
    monkeypatch.setattr(runner_module, '_cuda_available', lambda: cuda)
    runner = toy_runner(tmp_path)
    assert runner.model.data_preprocessor._non_blocking is cuda
    cfg = dict(dataset=[dict(inputs=torch.zeros(2))] * 4,
               sampler=dict(type='DefaultSampler', shuffle=False),
               collate_fn=dict(type='default_collate'), batch_size=2)
    assert runner.build_dataloader(cfg).pin_memory is cuda
    # an explicit setting is kept
    assert runner.build_dataloader(dict(cfg, pin_memory=False)).pin_memory \
        is False
    assert 'pin_memory' not in cfg  # the config is not modified
