"""MultiModalNoiseInjection: levels drawn on every load from its own
generator (global RNGs untouched, workers not repeating each other), the
noise per level and modality, the level packed into the sample."""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mm_incomplete.datasets.transforms import (MultiModalNoiseInjection,
                                               PackMultiModalClsInputs)


def _results(value=100.0, depth=2.0):
    img = np.full((8, 8, 4), value, np.float32)
    img[..., 3] = depth
    img[0, 0, 3] = 0.0  # an invalid depth pixel
    return dict(img=img, modalities=('rgb', 'depth'),
                modality_channels=(3, 1))


def test_levels_random_across_loads_and_global_rngs_untouched(monkeypatch):
    t = MultiModalNoiseInjection(seed=0)
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    py_state = random.getstate()

    def forbidden(*args, **kwargs):
        raise AssertionError('the transform used a global generator')

    for module, name in ((np.random, 'seed'), (np.random, 'rand'),
                         (np.random, 'randint'), (np.random, 'normal'),
                         (np.random, 'uniform'), (torch, 'manual_seed'),
                         (random, 'random'), (random, 'seed')):
        monkeypatch.setattr(module, name, forbidden)
    loads = [t(_results()) for _ in range(40)]   # the same sample, reloaded
    monkeypatch.undo()
    levels = [(r['noise_level']['rgb'], r['noise_level']['depth'])
              for r in loads]
    assert len(set(levels)) > 5
    rgb = [lv[0] for lv in levels]
    assert 10 <= rgb.count(1) <= 35      # about half clean (plus draws of 1)
    assert max(rgb) > 5
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == py_state
    # the same seed repeats the stream; a different seed does not
    again = MultiModalNoiseInjection(seed=0)
    assert [again(_results())['noise_level'] for _ in range(40)] == \
        [r['noise_level'] for r in loads]


def test_noise_per_level_and_modality():
    clean = MultiModalNoiseInjection(fixed_levels=dict(rgb=1, depth=1),
                                     seed=0)(_results())
    assert np.array_equal(clean['img'], _results()['img'])
    mid = MultiModalNoiseInjection(fixed_levels=dict(rgb=5, depth=5),
                                   seed=0)(_results())
    rgb, depth = mid['img'][..., :3], mid['img'][..., 3]
    assert 10 < (rgb - 100).std() < 40     # std 25, clipped at 0..255
    rel = depth[depth > 0] / 2.0 - 1
    assert 0.03 < rel.std() < 0.2          # relative std 25 / 255
    assert depth[0, 0] == 0                # invalid depth stays invalid
    full = MultiModalNoiseInjection(fixed_levels=dict(rgb=11, depth=11),
                                    seed=0)(_results(depth=3.0))
    assert full['img'][..., :3].std() > 50  # replaced by uniform 0..255
    assert full['img'][..., 3][1:].min() >= 0
    only_rgb = MultiModalNoiseInjection(modalities=['rgb'], seed=0,
                                        fixed_levels=dict(rgb=9))(_results())
    assert only_rgb['noise_level'] == dict(rgb=9, depth=1)
    assert np.array_equal(only_rgb['img'][..., 3], _results()['img'][..., 3])


def test_disabled_is_clean_and_level_travels_in_metainfo():
    t = MultiModalNoiseInjection(enabled=False, seed=0)
    for _ in range(10):
        r = t(_results())
        assert r['noise_level'] == dict(rgb=1, depth=1)
        assert np.array_equal(r['img'], _results()['img'])
    t.enabled = True
    r = t(_results())
    while r['noise_level']['rgb'] == 1:
        r = t(_results())
    r.update(img_shape=(8, 8), ori_shape=(8, 8))
    packed = PackMultiModalClsInputs()(r)
    assert packed['data_samples'].metainfo['noise_level'] == \
        r['noise_level']


def test_workers_draw_different_streams(monkeypatch):
    import torch.utils.data as tud
    t = MultiModalNoiseInjection(seed=0)
    streams = []
    for seed in (11, 12, 11):
        monkeypatch.setattr(tud, 'get_worker_info',
                            lambda s=seed: SimpleNamespace(seed=s, id=0))
        worker = MultiModalNoiseInjection(seed=0)  # a fresh copy per worker
        streams.append([worker(_results())['noise_level']
                        for _ in range(20)])
    assert streams[0] != streams[1] and streams[0] == streams[2]
    monkeypatch.setattr(tud, 'get_worker_info', lambda: None)
    assert [t(_results())['noise_level'] for _ in range(20)] != streams[0]


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='fixed_levels'):
        MultiModalNoiseInjection(fixed_levels=dict(rgb=12))
    with pytest.raises(KeyError, match='ir'):
        MultiModalNoiseInjection(modalities=['ir'])(_results())


class _Loads(torch.utils.data.Dataset):
    def __init__(self, transform):
        self.t = transform

    def __len__(self):
        return 10**6

    def __getitem__(self, i):
        return self.t(_results())['noise_level']['rgb']


def test_switch_reaches_dataloader_workers_and_deepcopy_is_independent():
    import copy
    t = MultiModalNoiseInjection(enabled=False, clean_prob=0.0, seed=0)
    loader = torch.utils.data.DataLoader(_Loads(t), batch_size=4,
                                         num_workers=2, prefetch_factor=1)
    it = iter(loader)
    assert all(next(it).eq(1).all() for _ in range(2))
    t.enabled = True   # in the main process, after the workers started
    later = torch.cat([next(it) for _ in range(6)])
    assert (later > 1).any()   # after the prefetched batches
    twin = copy.deepcopy(t)
    twin.enabled = False
    assert t.enabled and not twin.enabled
