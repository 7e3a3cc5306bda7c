"""Checkpoints of our runs load back with torch's weights_only protection on."""
import os

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mm_incomplete  # noqa: F401  (installs the loader)
from mm_incomplete.utils import CHECKPOINT_SAFE_GLOBALS, load_local_checkpoint


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


def _runner(work_dir, max_iters, resume=False):
    data = [dict(inputs=torch.randn(2), labels=torch.randn(1))
            for _ in range(16)]
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=3),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0))


def test_default_torch_load_is_weights_only():
    # the protection itself stays on: an arbitrary class is still refused
    assert os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD') is None
    assert all(not isinstance(g, str) for g in CHECKPOINT_SAFE_GLOBALS)


def test_resume_restores_iteration_optimizer_and_weights(tmp_path):
    runner = _runner(tmp_path, 3)
    runner.train()
    ckpt = tmp_path / 'iter_3.pth'
    assert ckpt.is_file()
    saved = torch.load(ckpt)  # weights_only by default in torch >= 2.6
    assert saved['meta']['iter'] == 3

    resumed = _runner(tmp_path, 6, resume=True)
    resumed.load_or_resume()
    assert resumed.iter == 3
    for k, v in saved['state_dict'].items():
        assert torch.equal(resumed.model.state_dict()[k], v)
    momentum = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert momentum and all(
        torch.equal(momentum[i]['momentum_buffer'],
                    saved['optimizer']['state'][i]['momentum_buffer'])
        for i in momentum)
    resumed.train()
    assert resumed.iter == 6


class NotAllowed:
    pass


def test_unlisted_types_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowed()}, path)
    with pytest.raises(RuntimeError, match=str(path)) as err:
        load_local_checkpoint(str(path))
    assert 'NotAllowed' in str(err.value)


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_local_checkpoint(str(missing))
    corrupt = tmp_path / 'corrupt.pth'
    torch.save({'w': torch.zeros(100)}, corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:50])
    with pytest.raises(RuntimeError, match='corrupt.pth'):
        load_local_checkpoint(str(corrupt))
    # and through mmengine's own entry point
    from mmengine.runner import load_checkpoint
    with pytest.raises(RuntimeError, match='corrupt.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), str(corrupt))


def test_history_buffer_round_trip_keeps_statistics(tmp_path):
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    for v in (1.0, 2.0, 6.0):
        buf.update(v)
    path = tmp_path / 'buf.pth'
    torch.save({'buf': buf}, path)
    loaded = torch.load(path)['buf']  # weights_only
    assert loaded.mean() == 3.0 and loaded.max() == 6.0
    assert loaded.statistics('current') == 6.0
    assert 'statistics_methods' not in buf.__dict__
