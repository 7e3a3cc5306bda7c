"""CombinationMiningHook and LossScaleWarmupHook, alone and in a real Runner
that is interrupted inside the mining window and resumed."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import IterBasedTrainLoop, Runner

from mm_incomplete.engine.hooks import (CombinationMiningHook,
                                        LossScaleWarmupHook)
from mm_incomplete.models.utils import CombinationSelector

LAYOUT = dict(rgb=3, depth=1)
FULL, RGB, DEPTH = [True, True], [True, False], [False, True]


class _Head(nn.Module):

    def __init__(self, combinations=None):
        super().__init__()
        self.selector = CombinationSelector(LAYOUT, combinations)
        self.loss_scale = 1.0


class ToyModel(BaseModel):
    """Feeds each sample's first input as its mining score."""

    def __init__(self, combinations=None):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.head = _Head(combinations)
        self.scales = []

    def forward(self, inputs, mask, mode='tensor'):
        sel = self.head.selector
        if self.training and sel.mining:
            sel.accumulate(inputs[:, 0], mask)
        self.scales.append(self.head.loss_scale)
        return dict(loss=self.linear(inputs).pow(2).mean())


def _dataset():
    """Batches of 4: full (score 0), rgb (1.0), depth, depth.

    Depth scores 3.0 in batches 0-2 and 0.2 in batches 3-5: over the whole
    window depth wins (1.6 > 1.0); over batches 3-5 alone rgb would.
    """
    items = []
    for k in range(6):
        d = 3.0 if k < 3 else 0.2
        for score, mask in ((0.0, FULL), (1.0, RGB), (d, DEPTH), (d, DEPTH)):
            items.append(dict(inputs=torch.tensor([score, 1.0]),
                              mask=torch.tensor(mask)))
    return items


def _runner(work_dir, max_iters=8, resume_from=None, name='run'):
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=dict(
            dataset=_dataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=3),
            logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=[
            dict(type='CombinationMiningHook', begin=0, end=6),
            dict(type='LossScaleWarmupHook', modules=['head'], begin=4)
        ],
        resume=resume_from is not None,
        load_from=resume_from,
        default_scope='mmengine')


def test_mined_state_survives_a_runner_resume_inside_the_window(tmp_path):
    full = _runner(str(tmp_path / 'full'))
    full.train()
    sel = full.model.head.selector
    assert sel.selected_names == ['depth'] and not sel.mining
    assert full.model.scales == [0.0] * 4 + [1.0] * 4

    mid = torch.load(osp.join(tmp_path, 'full', 'iter_3.pth'))
    assert mid['state_dict']['head.selector.score_count'].sum() == 12
    after = torch.load(osp.join(tmp_path, 'full', 'iter_6.pth'))
    assert after['meta']['selected_combinations'] == {
        'head.selector': ['depth']}
    assert after['state_dict']['head.selector.selected'].tolist() == \
        [False, False, True]

    resumed = _runner(str(tmp_path / 'resumed'),
                      resume_from=osp.join(tmp_path, 'full', 'iter_3.pth'))
    resumed.train()
    assert resumed.iter == 8
    assert resumed.model.head.selector.selected_names == ['depth']
    assert resumed.model.scales == [0.0] + [1.0] * 4

    # control: losing the window's first half flips the choice to rgb
    mid['state_dict']['head.selector.score_sum'].zero_()
    mid['state_dict']['head.selector.score_count'].zero_()
    torch.save(mid, str(tmp_path / 'wiped.pth'))
    wiped = _runner(str(tmp_path / 'wiped'),
                    resume_from=str(tmp_path / 'wiped.pth'))
    wiped.train()
    assert wiped.model.head.selector.selected_names == ['rgb']


def _fake_runner(model, it=0, max_iters=10):
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    loop._max_iters = max_iters
    return SimpleNamespace(model=model, iter=it, epoch=0, train_loop=loop)


def test_hook_opens_and_closes_the_window():
    model = ToyModel()
    runner = _fake_runner(model)
    hook = CombinationMiningHook(begin=2, end=4)
    hook.before_train(runner)
    seen = []
    for it in range(6):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append(model.head.selector.mining)
        if model.head.selector.mining:
            model.head.selector.accumulate(
                torch.tensor([0.0, 2.0]), torch.tensor([RGB, DEPTH]))
        hook.after_train_iter(runner, it)
    assert seen == [False, False, True, True, False, False]
    assert model.head.selector.selected_names == ['depth']
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['meta']['selected_combinations'] == {
        'head.selector': ['depth']}


def test_hook_rejects_bad_settings():
    with pytest.raises(ValueError, match='begin'):
        CombinationMiningHook(begin=5, end=5)
    with pytest.raises(RuntimeError, match="fixed ones: \\['head.selector'"):
        CombinationMiningHook(0, 4).before_train(
            _fake_runner(ToyModel(['depth'])))
    with pytest.raises(ValueError, match='fixed by the config'):
        CombinationMiningHook(0, 4, selectors=['head.selector']).before_train(
            _fake_runner(ToyModel(['depth'])))
    with pytest.raises(KeyError, match="no selector named \\['aux'\\]"):
        CombinationMiningHook(0, 4, selectors=['aux']).before_train(
            _fake_runner(ToyModel()))
    with pytest.raises(ValueError, match='stops at 10'):
        CombinationMiningHook(0, 20).before_train(_fake_runner(ToyModel()))
    with pytest.raises(RuntimeError, match='no CombinationSelector'):
        CombinationMiningHook(0, 4).before_train(
            _fake_runner(nn.Linear(1, 1)))
    with pytest.raises(ValueError, match='epoch-based'):
        CombinationMiningHook(0, 4, by_epoch=True).before_train(
            _fake_runner(ToyModel()))


def test_warmup_schedule_and_errors():
    hook = LossScaleWarmupHook(['head'], begin=10, end=14)
    assert [hook.scale_at(i) for i in (0, 9, 10, 11, 13, 14, 99)] == \
        [0.0, 0.0, 0.25, 0.5, 1.0, 1.0, 1.0]
    assert LossScaleWarmupHook(['head'], begin=3).scale_at(3) == 1.0
    model = ToyModel()
    runner = _fake_runner(model, it=11)
    hook.before_train_iter(runner, 11)
    assert model.head.loss_scale == 0.5
    with pytest.raises(KeyError, match="no submodule 'decode_head'"):
        LossScaleWarmupHook(['decode_head']).before_train_iter(runner, 0)
    with pytest.raises(TypeError, match='no `loss_scale`'):
        LossScaleWarmupHook(['linear']).before_train_iter(runner, 0)
    with pytest.raises(ValueError, match='modules'):
        LossScaleWarmupHook('head')
