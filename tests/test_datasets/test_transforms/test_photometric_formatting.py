import numpy as np
import pytest
import torch

from mm_incomplete.datasets.transforms import (PackMultiModalClsInputs,
                                               PackMultiModalSegInputs,
                                               RGBPhotoMetricDistortion)


def _sample():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (8, 8, 7)).astype(np.float32)
    img[..., 3] = rng.uniform(0.5, 5.0, (8, 8))
    return dict(img=img, modalities=('rgb', 'depth', 'hha'),
                modality_channels=(3, 1, 3))


def test_distortion_touches_rgb_only():
    np.random.seed(0)
    changed = 0
    for _ in range(5):
        r = _sample()
        src = r['img'].copy()
        out = RGBPhotoMetricDistortion()(r)['img']
        assert out.shape == (8, 8, 7) and out.dtype == np.float32
        np.testing.assert_array_equal(out[..., 3:], src[..., 3:])
        assert out[..., :3].min() >= 0 and out[..., :3].max() <= 255
        changed += not np.allclose(out[..., :3], src[..., :3])
    assert changed > 0


def test_distortion_of_other_modality_and_errors():
    np.random.seed(3)
    r = _sample()
    src = r['img'].copy()
    out = RGBPhotoMetricDistortion(modality='hha')(r)['img']
    np.testing.assert_array_equal(out[..., :4], src[..., :4])
    with pytest.raises(ValueError, match='3'):
        RGBPhotoMetricDistortion(modality='depth')(_sample())
    with pytest.raises(ValueError, match='ir'):
        RGBPhotoMetricDistortion(modality='ir')(_sample())


def test_pack_seg_and_cls():
    r = _sample()
    r['gt_seg_map'] = np.full((8, 8), 2, np.uint8)
    r['img_path'] = 'x.png'
    out = PackMultiModalSegInputs()(dict(r))
    assert out['inputs'].shape == (7, 8, 8)
    assert out['inputs'].dtype == torch.float32
    torch.testing.assert_close(out['inputs'][3],
                               torch.from_numpy(r['img'][..., 3]))
    gt = out['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 8, 8) and gt.dtype == torch.int64
    assert out['data_samples'].modalities == ('rgb', 'depth', 'hha')
    r['gt_label'] = 1
    out = PackMultiModalClsInputs()(r)
    assert out['inputs'].shape == (7, 8, 8)
    assert out['data_samples'].gt_label.tolist() == [1]
    bad = _sample()
    bad['img'] = bad['img'][..., :4]
    with pytest.raises(ValueError, match='channels'):
        PackMultiModalSegInputs()(bad)


def _hsv_sample(seed=0):
    rng = np.random.RandomState(seed)
    rgb = rng.uniform(0, 255, (3, 4, 3)).astype(np.float32)
    depth = rng.uniform(0.5, 5, (3, 4, 1)).astype(np.float32)
    return dict(img=np.concatenate([rgb, depth], 2),
                modalities=('rgb', 'depth'), modality_channels=(3, 1))


def test_rgb_random_hsv_matches_colorsys_and_keeps_depth():
    import colorsys

    from mm_incomplete.datasets.transforms import RGBRandomHSV
    r = _hsv_sample()
    img = r['img'].copy()
    t = RGBRandomHSV(h_range=(0.8, 0.8), s_range=(1.2, 1.2),
                     v_range=(0.7, 0.7))
    out = t(r)['img']
    assert np.array_equal(out[..., 3], img[..., 3])  # depth untouched
    for y in range(3):
        for x in range(4):
            h, s, v = colorsys.rgb_to_hsv(*(img[y, x, :3] / 255.0))
            expected = colorsys.hsv_to_rgb(min(h * 0.8, 1.0),
                                           min(s * 1.2, 1.0),
                                           min(v * 0.7, 1.0))
            np.testing.assert_allclose(out[y, x, :3],
                                       np.array(expected) * 255, atol=0.05)


def test_rgb_random_hsv_identity_and_range():
    from mm_incomplete.datasets.transforms import RGBRandomHSV
    r = _hsv_sample(1)
    img = r['img'].copy()
    out = RGBRandomHSV(h_range=(1, 1), s_range=(1, 1), v_range=(1, 1))(r)
    np.testing.assert_allclose(out['img'], img, atol=0.05)
    np.random.seed(0)
    out = RGBRandomHSV()(_hsv_sample(2))['img']
    assert out.dtype == np.float32 and out[..., :3].min() >= 0 and \
        out[..., :3].max() <= 255
    with pytest.raises(ValueError, match='h_range'):
        RGBRandomHSV(h_range=(-1, 1))
