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


# -- modality kinds -------------------------------------------------------
def test_kinds_are_inferred_from_well_known_names():
    layout = ModalityLayout('rgb:3,depth:1,hha:3,ir:1')
    assert layout.kinds == ('colour', 'depth', 'other', 'other')
    assert layout.names_of_kind('depth') == ('depth', )
    assert layout.names_of_kind('other') == ('hha', 'ir')


@pytest.mark.parametrize('spec', [
    'rgb:3,thermal:1:depth,depth:1:other',
    [('rgb', 3), ('thermal', 1, 'depth'), ('depth', 1, 'other')],
    dict(rgb=3, thermal=dict(channels=1, kind='depth'),
         depth=dict(channels=1, kind='other')),
])
def test_explicit_kinds_in_every_form(spec):
    layout = ModalityLayout(spec)
    assert layout.names == ('rgb', 'thermal', 'depth')
    assert layout.channels == (3, 1, 1)
    assert layout.kinds == ('colour', 'depth', 'other')
    # the string form round-trips, writing only the non-default kinds
    assert layout.spec() == 'rgb:3,thermal:1:depth,depth:1:other'
    assert ModalityLayout(layout.spec()) == layout == ModalityLayout(layout)
    assert repr(layout) == \
        "ModalityLayout('rgb:3,thermal:1:depth,depth:1:other')"


def test_kinds_take_part_in_equality():
    assert ModalityLayout('rgb:3,depth:1') == \
        ModalityLayout('rgb:3:colour,depth:1:depth')
    assert ModalityLayout('rgb:3,depth:1') != \
        ModalityLayout('rgb:3,depth:1:other')
    assert repr(ModalityLayout('rgb:3:colour,depth:1')) == \
        "ModalityLayout('rgb:3,depth:1')"


def test_unknown_name_without_kind_names_the_option():
    layout = ModalityLayout('rgb:3,thermal:1', option='train.modalities')
    assert layout.names == ('rgb', 'thermal')  # building it is fine ...
    with pytest.raises(ValueError, match='train.modalities') as err:
        layout.kinds  # ... asking for its kind is not
    assert "'thermal'" in str(err.value) and 'thermal:1:other' in str(
        err.value)
    assert layout.kind('rgb') == 'colour'


@pytest.mark.parametrize('spec, message', [
    ('rgb:3:color', "kind 'color'"),
    (dict(ir=dict(channels=1, kind='infrared')), "kind 'infrared'"),
    (dict(ir=dict(kind='other')), r'dict\(channels=C'),
    ('rgb:3:colour:x', 'name:channels:kind'),
])
def test_bad_kinds_name_the_option(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        ModalityLayout(spec, option='backbone.modalities')
    assert 'backbone.modalities' in str(err.value)


def test_string_and_list_forms_keep_their_order_through_a_config_dump(
        tmp_path):
    from mmengine.config import Config
    cfg = Config(dict(a='depth:1,rgb:3,ir:1:depth',
                      b=[('depth', 1), ('rgb', 3), ('ir', 1, 'depth')],
                      c=dict(depth=1, rgb=3)))
    path = str(tmp_path / 'dumped.py')
    cfg.dump(path)
    back = Config.fromfile(path)
    expected = ModalityLayout('depth:1,rgb:3,ir:1:depth')
    assert ModalityLayout(back.a) == expected
    assert ModalityLayout(back.b) == expected
    # (a dict may come back reordered: that is why the docs prefer the
    # string form for layouts whose order matters)
    assert set(ModalityLayout(back.c).names) == {'depth', 'rgb'}
