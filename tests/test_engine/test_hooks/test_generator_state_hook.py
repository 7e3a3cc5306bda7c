"""An interrupted and resumed run ends with an uninterrupted run's weights.

DMRNet on the synthetic set for 4 iterations, checkpoint and validation every
2: the resumed run starts from the uninterrupted run's ``iter_2.pth`` (what a
kill after that save leaves behind). Between them the training step draws
from every kind of generator: numpy (random resize/crop/flip and photometric
distortion, no workers), torch's global generator (ModDrop, dropout,
DMRNet's sampled embeddings) and validation creates a data loader iterator
(a torch draw) between the save and the next batch.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mm_incomplete.engine.hooks.generator_state_hook import (
    STATE_KEY, capture_generator_states, restore_generator_states)
from mm_incomplete.models.data_preprocessors import \
    MultiModalSegDataPreProcessor
from _tiny_runs import build_runner, ckpt, tiny_config

CFG = 'dmrnet/synthetic_seg_cpu.py'


def _train(work_dir, data_root, resume_from=None):
    cfg = tiny_config(CFG, work_dir, data_root, max_iters=4, interval=2)
    # mine the hard combination over [0, 3): the window spans the interrupt
    cfg.custom_hooks[0].update(begin=0, end=3)
    cfg.custom_hooks[1].update(begin=1)
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    build_runner(cfg).train()


def _differing(a: dict, b: dict) -> list:
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, synthetic_root):
    work = str(tmp_path_factory.mktemp('uninterrupted'))
    _train(work, synthetic_root)
    return work


def test_resume_is_bit_exact(uninterrupted, synthetic_root, tmp_path):
    resumed = str(tmp_path / 'resumed')
    _train(resumed, synthetic_root, resume_from=ckpt(uninterrupted, 2))
    assert not osp.exists(ckpt(resumed, 2))  # it really started at 2
    full, res = torch.load(ckpt(uninterrupted, 4)), torch.load(
        ckpt(resumed, 4))
    assert len(full['state_dict']) > 100
    assert _differing(full['state_dict'], res['state_dict']) == []
    opt_full, opt_res = full['optimizer']['state'], res['optimizer']['state']
    assert opt_full.keys() == opt_res.keys()
    for idx in opt_full:
        assert _differing(opt_full[idx], opt_res[idx]) == [], idx
    assert full['meta']['selected_combinations'] == \
        res['meta']['selected_combinations']


def test_without_the_saved_generators_resume_differs(uninterrupted,
                                                     synthetic_root,
                                                     tmp_path):
    """The same resume from a checkpoint stripped of its generator states (as
    mmengine alone writes it) ends elsewhere: the test above can fail."""
    saved = torch.load(ckpt(uninterrupted, 2))
    assert STATE_KEY in saved
    del saved[STATE_KEY]
    stripped = str(tmp_path / 'iter_2.pth')
    torch.save(saved, stripped)
    resumed = str(tmp_path / 'resumed')
    _train(resumed, synthetic_root, resume_from=stripped)
    full, res = torch.load(ckpt(uninterrupted, 4)), torch.load(
        ckpt(resumed, 4))
    assert len(_differing(full['state_dict'], res['state_dict'])) > 10


def test_sampler_generator_is_saved_and_restored():
    """A seeded modality sampler's own generator goes through the states."""
    pre = MultiModalSegDataPreProcessor(
        modalities=dict(rgb=3, depth=1),
        train_sampler=dict(type='ModDrop', drop_prob=0.5, seed=7))
    sampler, layout = pre.train_sampler, pre.layout
    sampler(5, layout)  # advance it
    state = capture_generator_states(pre)
    assert set(state['model']) == {'train_sampler'}
    first = sampler(64, layout)
    np_first, torch_first = np.random.rand(3), torch.rand(3)
    sampler(64, layout)  # move on
    restore_generator_states(state, pre)
    assert torch.equal(sampler(64, layout), first)
    assert np.array_equal(np.random.rand(3), np_first)
    assert torch.equal(torch.rand(3), torch_first)
    state['model'].clear()
    with pytest.raises(KeyError, match="'train_sampler'"):
        restore_generator_states(state, pre, 'checkpoint x.pth')


def test_states_survive_weights_only_loading(tmp_path):
    path = str(tmp_path / 'states.pth')
    torch.save({STATE_KEY: capture_generator_states()}, path)
    loaded = torch.load(path, weights_only=True)[STATE_KEY]
    expect = np.random.rand(2)
    np.random.rand(5)
    restore_generator_states(loaded)
    # restoring a state taken before `expect` was drawn gives it again
    assert np.array_equal(np.random.rand(2), expect)


def test_tiny_config_keeps_a_real_pipeline(synthetic_root, tmp_path):
    """Guard for the tests above: the shrunk config still has random
    transforms and a ModDrop sampler without a seed (global generator)."""
    cfg = tiny_config(CFG, str(tmp_path), synthetic_root)
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert 'MultiModalRandomFlip' in types and 'MultiModalRandomCrop' in types
    sampler = cfg.model.data_preprocessor.train_sampler
    assert sampler['type'] == 'ModDrop' and sampler.get('seed') is None
    assert isinstance(cfg, Config)
