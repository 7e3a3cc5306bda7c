import pytest
import torch
from mmengine.registry import TASK_UTILS

from mm_incomplete.modality import (FixedCombination, ModalityLayout, ModDrop,
                                    UniformCombinations, WeightedCombinations,
                                    build_sampler)

LAYOUT = ModalityLayout('rgb:3,depth:1,ir:3')


def _freq(mask):
    names = [LAYOUT.combination_name(row) for row in mask]
    return {n: names.count(n) / len(names) for n in set(names)}


def test_fixed_and_build_forms():
    assert build_sampler(None)(2, LAYOUT).all()
    assert build_sampler('depth')(3, LAYOUT).tolist() == [[False, True,
                                                           False]] * 3
    s = TASK_UTILS.build(dict(type='FixedCombination', combination='rgb+ir'))
    assert isinstance(s, FixedCombination)
    assert s(1, LAYOUT).tolist() == [[True, False, True]]


def test_uniform_covers_all_combinations_evenly():
    mask = UniformCombinations(seed=1)(7000, LAYOUT)
    freq = _freq(mask)
    assert len(freq) == 7 and mask.any(1).all()
    assert all(abs(f - 1 / 7) < 0.02 for f in freq.values())


def test_moddrop_matches_conditional_independent_drop():
    p = dict(rgb=0.5, depth=0.2)  # ir never dropped
    mask = ModDrop(drop_prob=p, seed=0)(20000, LAYOUT)
    assert mask[:, 2].all() and mask.any(1).all()
    # with ir always kept, no row is empty: the rates are the plain ones
    assert abs((~mask[:, 0]).float().mean() - 0.5) < 0.02
    assert abs((~mask[:, 1]).float().mean() - 0.2) < 0.02


def test_moddrop_redraws_empty_rows():
    layout = ModalityLayout('rgb:3,depth:1')
    mask = ModDrop(drop_prob=0.5, seed=0)(30000, layout)
    assert mask.any(1).all()
    # P(keep only rgb) = 0.25 / 0.75 under the conditional distribution
    only_rgb = (mask[:, 0] & ~mask[:, 1]).float().mean()
    assert abs(only_rgb - 1 / 3) < 0.02


def test_weighted_follows_weights():
    s = WeightedCombinations({'depth': 3, 'rgb+depth+ir': 1}, seed=0)
    freq = _freq(s(8000, LAYOUT))
    assert set(freq) == {'depth', 'rgb+depth+ir'}
    assert abs(freq['depth'] - 0.75) < 0.02


def test_seed_reproducible_and_resumable():
    a, b = ModDrop(0.5, seed=3), ModDrop(0.5, seed=3)
    assert torch.equal(a(16, LAYOUT), b(16, LAYOUT))
    state = a.state_dict()
    nxt = a(16, LAYOUT)
    c = ModDrop(0.5, seed=3)
    c.load_state_dict(state)
    assert torch.equal(c(16, LAYOUT), nxt)


def test_global_generator_follows_torch_seed():
    torch.manual_seed(5)
    x = UniformCombinations()(32, LAYOUT)
    torch.manual_seed(5)
    assert torch.equal(x, UniformCombinations()(32, LAYOUT))


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='drop_prob'):
        ModDrop(drop_prob=1.5)
    with pytest.raises(ValueError, match='drops every modality'):
        ModDrop(drop_prob=1.0)(2, LAYOUT)
    with pytest.raises(KeyError, match='unknown modality'):
        ModDrop(drop_prob=dict(thermal=0.5))(2, LAYOUT)
    with pytest.raises(ValueError, match='`weights`'):
        WeightedCombinations({'lidar': 1.0})(2, LAYOUT)
    with pytest.raises(ValueError, match='sum to 0'):
        WeightedCombinations({'rgb': 0.0})(2, LAYOUT)
