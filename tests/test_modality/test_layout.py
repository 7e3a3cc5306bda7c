import pytest
import torch

from mm_incomplete.modality import ModalityLayout


def test_parse_forms_agree():
    a = ModalityLayout('rgb:3, depth:1')
    b = ModalityLayout(dict(rgb=3, depth=1))
    c = ModalityLayout([('rgb', 3), ('depth', 1)])
    assert a == b == c == ModalityLayout(a)
    assert a.names == ('rgb', 'depth') and a.channels == (3, 1)
    assert a.total_channels == 4 and a.num_modalities == 2


def test_combinations_count_order_and_names():
    layout = ModalityLayout('rgb:3,depth:1,hha:3')
    combos = layout.combinations()
    assert len(combos) == 2**3 - 1
    assert combos[0] == ('rgb', 'depth', 'hha')
    assert [layout.combination_name(c) for c in combos[-3:]] == \
        ['rgb', 'depth', 'hha']
    # names keep layout order whatever order they are given in
    assert layout.parse_combination('hha+rgb') == ('rgb', 'hha')
    assert layout.combination_name(['hha', 'rgb']) == 'rgb+hha'


def test_parse_combinations():
    layout = ModalityLayout('rgb:3,depth:1')
    assert layout.parse_combinations('all') == layout.combinations()
    assert layout.parse_combinations(None) == layout.combinations()
    assert layout.parse_combinations('rgb, depth+rgb rgb') == \
        [('rgb', ), ('rgb', 'depth')]
    assert layout.parse_combinations(['depth']) == [('depth', )]


def test_masks_and_channels():
    layout = ModalityLayout('rgb:3,depth:1')
    mask = layout.combination_mask('depth')
    assert mask.tolist() == [False, True]
    assert layout.combination_name(mask) == 'depth'
    batch = torch.tensor([[True, False], [False, True]])
    assert layout.channel_mask(batch).tolist() == [
        [True, True, True, False], [False, False, False, True]]
    x = torch.arange(2 * 4 * 2 * 2, dtype=torch.float).view(2, 4, 2, 2)
    parts = layout.split(x)
    assert parts['rgb'].shape == (2, 3, 2, 2)
    assert torch.equal(parts['depth'], x[:, 3:4])
    assert layout.channel_slice('depth') == slice(3, 4)


@pytest.mark.parametrize('spec, message', [
    ('rgb:3,rgb:1', 'more than once'),
    ('rgb', 'expected "name:channels"'),
    ('', 'is empty'),
    (dict(rgb=0), 'positive integer'),
    (dict(rgb=3.0), 'positive integer'),
    ({'a+b': 1}, 'invalid modality name'),
])
def test_bad_layouts_name_the_option(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        ModalityLayout(spec, option='data_preprocessor.modalities')
    if message != 'expected "name:channels"':
        assert 'data_preprocessor.modalities' in str(err.value)


def test_bad_combinations():
    layout = ModalityLayout('rgb:3,depth:1')
    with pytest.raises(ValueError, match=r"unknown modality \['ir'\]"):
        layout.parse_combination('rgb+ir', option='--modalities')
    with pytest.raises(ValueError, match='--modalities'):
        layout.parse_combination('', option='--modalities')
    with pytest.raises(ValueError, match='is empty'):
        layout.parse_combinations([])
    with pytest.raises(KeyError, match='unknown modality'):
        layout.index('ir')
    with pytest.raises(ValueError, match='needs 4'):
        layout.split(torch.zeros(1, 3, 2, 2))
