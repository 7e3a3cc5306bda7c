"""Loading, interpolation and photometric rules follow each modality's kind,
not its name (``ModalityLayout``: colour, depth, other)."""
import cv2
import numpy as np
import pytest

from mm_incomplete.datasets.transforms import (LoadMultiModalImages,
                                               MultiModalRandomRotate,
                                               MultiModalResize,
                                               RGBPhotoMetricDistortion)


def _write(path, arr):
    assert cv2.imwrite(str(path), arr)
    return str(path)


def _load(tmp_path, layout, arrays, **kwargs):
    paths = {n: _write(tmp_path / f'{n}.png', a) for n, a in arrays.items()}
    return LoadMultiModalImages(layout, **kwargs)(
        dict(modality_paths=paths))


def _blocky(h=6, w=8, seed=0):
    """An 8-bit-valued map with a zero hole, as floats."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 255, (h, w)).astype(np.float32)
    a[1:3, 2:4] = 0
    return a


def test_loading_decodes_by_kind(tmp_path):
    rgb = np.full((4, 5, 3), 7, np.uint8)
    eight_bit = np.full((4, 5), 200, np.uint8)
    metres = np.full((4, 5), 1500, np.uint16)
    # CASIA-SURF's 8-bit depth: kind `other`, decoded as 0..255
    out = _load(tmp_path, 'rgb:3,depth:1:other',
                dict(rgb=rgb, depth=eight_bit))
    assert out['img'][0, 0, 3] == 200.0
    assert out['modality_kinds'] == ('colour', 'other')
    # a depth sensor under another name: kind `depth`, decoded as metres
    out = _load(tmp_path, [('rgb', 3), ('lidar', 1, 'depth')],
                dict(rgb=rgb, lidar=metres))
    assert out['img'][0, 0, 3] == pytest.approx(1.5)
    assert out['modality_kinds'] == ('colour', 'depth')
    # a uint16 file for an 8-bit kind is refused, naming the modality
    with pytest.raises(ValueError, match="'depth' file .* expected an 8-bit"):
        _load(tmp_path, 'rgb:3,depth:1:other', dict(rgb=rgb, depth=metres))


def test_loading_refuses_a_name_without_a_kind():
    with pytest.raises(ValueError, match='`modalities`') as err:
        LoadMultiModalImages('rgb:3,thermal:1')
    assert 'thermal:1:other' in str(err.value)
    with pytest.raises(ValueError, match='needs `modalities`'):
        LoadMultiModalImages()


def test_deprecated_depth_modalities_override_the_kind(tmp_path):
    rgb = np.full((4, 5, 3), 7, np.uint8)
    out = _load(tmp_path, dict(rgb=3, depth=1),
                dict(rgb=rgb, depth=np.full((4, 5), 9, np.uint8)),
                depth_modalities=())
    assert out['img'][0, 0, 3] == 9.0
    assert out['modality_kinds'] == ('colour', 'other')


@pytest.mark.parametrize('kinds, nearest', [
    (('colour', 'depth', 'other', 'other'), [False, True, False, False]),
    # the same names, other kinds: CASIA's 8-bit depth is interpolated, a
    # depth-like IR sensor is not
    (('colour', 'other', 'other', 'depth'), [False, False, False, True]),
])
@pytest.mark.parametrize('transform', [
    MultiModalResize(scale=(20, 15), keep_ratio=False),
    MultiModalRandomRotate(prob=1.0, degree=(30, 30)),
])
def test_interpolation_follows_the_kind(kinds, nearest, transform):
    maps = [_blocky(seed=s) for s in range(6)]
    img = np.stack(maps, axis=2)  # rgb (3) + depth + hha(1) + ir
    names = ('rgb', 'depth', 'hha', 'ir')
    chans = (3, 1, 1, 1)
    r = dict(img=img.copy(), modalities=names, modality_channels=chans,
             modality_kinds=kinds)
    out = transform(r)['img']
    start = 0
    for name, ch, near in zip(names, chans, nearest):
        src = set(img[..., start:start + ch].ravel().tolist()) | {0.0}
        got = set(np.round(out[..., start:start + ch], 4).ravel().tolist())
        assert (got <= src) == near, (name, near)
        start += ch


def test_interpolation_without_kinds_uses_the_names_or_refuses():
    img = np.stack([_blocky(seed=s) for s in range(2)], axis=2)
    def ok():
        return dict(img=img.copy(), modalities=('depth', 'ir'),
                    modality_channels=(1, 1))

    out = MultiModalResize(scale=(20, 15), keep_ratio=False)(ok())['img']
    assert set(out[..., 0].ravel().tolist()) <= set(
        img[..., 0].ravel().tolist())
    bad = dict(img=img.copy(), modalities=('depth', 'thermal'),
               modality_channels=(1, 1))
    with pytest.raises(ValueError, match="MultiModalResize.*'thermal'"):
        MultiModalResize(scale=(20, 15), keep_ratio=False)(bad)
    # the explicit option still overrides the kinds, and is checked
    out = MultiModalResize(scale=(20, 15), keep_ratio=False,
                           nearest_modalities=())(ok())['img']
    assert not set(out[..., 0].ravel().tolist()) <= set(
        img[..., 0].ravel().tolist())
    with pytest.raises(ValueError, match='nearest_modalities'):
        MultiModalResize((4, 4), nearest_modalities=('hha', ))(ok())


def test_photometric_distortion_follows_the_kind():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (8, 8, 9)).astype(np.float32)
    # two colour cameras and a 3-channel HHA map
    r = dict(img=img.copy(), modalities=('left', 'right', 'hha'),
             modality_channels=(3, 3, 3),
             modality_kinds=('colour', 'colour', 'other'))
    np.random.seed(1)
    changed = np.zeros(2, bool)
    for _ in range(5):
        out = RGBPhotoMetricDistortion()(dict(r, img=img.copy()))['img']
        np.testing.assert_array_equal(out[..., 6:], img[..., 6:])  # HHA
        changed |= [not np.allclose(out[..., :3], img[..., :3]),
                    not np.allclose(out[..., 3:6], img[..., 3:6])]
    assert changed.all()
    # no colour modality: an error, not a silent no-op
    gray = dict(img=img[..., :2].copy(), modalities=('depth', 'ir'),
                modality_channels=(1, 1))
    with pytest.raises(ValueError, match='no colour-kind modality'):
        RGBPhotoMetricDistortion()(gray)
