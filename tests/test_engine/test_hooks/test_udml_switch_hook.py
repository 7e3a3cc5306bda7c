"""UDMLSwitchHook: clean-then-noisy data and the weights switch, as a
function of progress only (so a resumed run switches exactly where an
uninterrupted one does), checked on a fake runner and in a real resumed
tiny run; its refusals name the option."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import Hook

from mm_incomplete.datasets.transforms import MultiModalNoiseInjection
from mm_incomplete.engine.hooks import UDMLSwitchHook
from mm_incomplete.engine.hooks.udml_switch_hook import (_noise_transforms,
                                                         _udml_backbones)
from mm_incomplete.models.backbones import UDMLBackbone
from _tiny_runs import build_runner, ckpt, tiny_config


def _fake_runner(workers=0, persistent=False):
    """A runner whose train loop is not IterBasedTrainLoop (epoch-based)."""
    noise = MultiModalNoiseInjection(enabled=False, seed=0)
    inner = SimpleNamespace(pipeline=SimpleNamespace(transforms=[noise]))
    dataset = SimpleNamespace(dataset=inner)  # a wrapped dataset
    bb = UDMLBackbone(dict(type='MultiBranchResNet',
                           modalities=dict(rgb=3, depth=1), depth=18,
                           base_channels=8, out_indices=(3, )), hidden=8)
    loader = SimpleNamespace(dataset=dataset, num_workers=workers,
                             persistent_workers=persistent)
    return SimpleNamespace(model=torch.nn.Sequential(bb),
                           train_dataloader=loader, iter=0, epoch=0), \
        noise, bb


def test_switches_follow_progress_only():
    runner, noise, bb = _fake_runner()
    hook = UDMLSwitchHook(noise_begin=5, weights_begin=8)
    hook.before_train(runner)
    seen = []
    for it in (0, 4, 5, 7, 8, 20, 6):  # the last: a run resumed earlier
        runner.iter = it - 1   # the batch of `it` is loaded after it - 1
        hook.after_train_iter(runner, 0)
        noisy = noise.enabled
        runner.iter = it
        hook.before_train_iter(runner, 0)
        seen.append((noisy, bool(bb.weights_active), bb._active_host))
    assert seen == [(False, False, False), (False, False, False),
                    (True, False, False), (True, False, False),
                    (True, True, True), (True, True, True),
                    (True, False, False)]
    by_epoch = UDMLSwitchHook(noise_begin=1, by_epoch=True)
    runner.epoch = 1
    by_epoch.before_train_epoch(runner)
    runner.iter = 0
    by_epoch.before_train_iter(runner, 0)  # ignored when counting epochs
    assert noise.enabled


def test_refusals_name_the_option():
    runner, _, _ = _fake_runner(workers=2, persistent=True)
    runner.train_loop = type('IterBasedTrainLoop', (), {})()
    with pytest.raises(ValueError, match='by_epoch=True under Iter'):
        UDMLSwitchHook(noise_begin=1, by_epoch=True).before_train(runner)
    UDMLSwitchHook(noise_begin=1).before_train(runner)  # workers are fine
    runner.train_dataloader.dataset = SimpleNamespace(pipeline=None)
    with pytest.raises(ValueError, match='no MultiModalNoiseInjection'):
        UDMLSwitchHook(noise_begin=1).before_train(runner)
    runner.model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match='no UDMLBackbone'):
        UDMLSwitchHook(weights_begin=1).before_train(runner)
    with pytest.raises(ValueError, match='noise_begin'):
        UDMLSwitchHook(noise_begin=-1)


class _Recorder(Hook):
    """Per iteration: (noise on, weights on, levels of the batch)."""

    def __init__(self):
        self.seen = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        noise = _noise_transforms(runner.train_dataloader.dataset)[0]
        bb = _udml_backbones(runner.model)[0]
        self.seen[runner.iter] = (noise.enabled, bool(bb.weights_active))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        levels = [s.metainfo['noise_level'] for s in
                  data_batch['data_samples']]
        self.seen[runner.iter] += (levels, )


def _train(work, root, resume_from=None):
    cfg = tiny_config('udml/synthetic_seg_cpu.py', work, root, max_iters=4,
                      interval=2)
    cfg.custom_hooks[0].update(noise_begin=3, weights_begin=3)
    cfg.train_dataloader.dataset.pipeline[6].clean_prob = 0.0
    cfg.train_cfg.val_interval = 100  # no validation: only the switches
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    runner = build_runner(cfg)
    rec = _Recorder()
    runner.register_hook(rec, priority='LOWEST')
    runner.train()
    return rec.seen


def test_real_run_switches_and_resumes(synthetic_root, tmp_path):
    full = _train(str(tmp_path / 'full'), synthetic_root)
    assert [full[i][:2] for i in range(4)] == [(False, False)] * 3 + \
        [(True, True)]
    assert all(lv == dict(rgb=1, depth=1) for i in range(3)
               for lv in full[i][2])
    assert any(lv['rgb'] > 1 for lv in full[3][2])  # noisy from iter 3 on
    state2 = torch.load(ckpt(str(tmp_path / 'full'), 2))['state_dict']
    state4 = torch.load(ckpt(str(tmp_path / 'full'), 4))['state_dict']
    assert not bool(state2['backbone.weights_active'])
    assert bool(state4['backbone.weights_active'])
    assert not torch.equal(state2['backbone.reliance'],
                           state4['backbone.reliance'])
    resumed = _train(str(tmp_path / 'resumed'), synthetic_root,
                     resume_from=ckpt(str(tmp_path / 'full'), 2))
    assert sorted(resumed) == [2, 3]
    assert [resumed[i][:2] for i in (2, 3)] == [(False, False),
                                               (True, True)]
    assert not osp.exists(ckpt(str(tmp_path / 'resumed'), 2))
