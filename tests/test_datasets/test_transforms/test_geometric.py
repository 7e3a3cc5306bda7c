import numpy as np
import pytest

from mm_incomplete.datasets.transforms import (MultiModalPad,
                                               MultiModalRandomCrop,
                                               MultiModalRandomFlip,
                                               MultiModalRandomResize,
                                               MultiModalRandomRotate,
                                               MultiModalResize)


def _sample(h=6, w=8, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.uniform(0, 255, (h, w, 4)).astype(np.float32)
    img[..., 3] = rng.uniform(1, 4, (h, w))
    img[1:3, 2:4, 3] = 0.0  # a depth hole
    seg = rng.integers(0, 5, (h, w)).astype(np.uint8)
    return dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map'],
                modalities=('rgb', 'depth'), modality_channels=(3, 1),
                img_shape=(h, w))


def test_resize_depth_nearest_rgb_bilinear():
    r = _sample()
    src_depth = set(r['img'][..., 3].ravel().tolist())
    src_rgb = set(r['img'][..., :3].ravel().tolist())
    out = MultiModalResize(scale=(20, 15), keep_ratio=False)(r)
    assert out['img'].shape == (15, 20, 4)
    assert out['gt_seg_map'].shape == (15, 20)
    # depth and label only take source values (no blending, holes stay 0)
    assert set(out['img'][..., 3].ravel().tolist()) <= src_depth
    assert (out['img'][..., 3] == 0).any()
    assert set(out['gt_seg_map'].ravel().tolist()) <= set(range(5))
    # RGB is interpolated: new values appear
    assert not set(out['img'][..., :3].ravel().tolist()) <= src_rgb
    assert out['img_shape'] == (15, 20)
    np.testing.assert_allclose(out['scale_factor'], (2.5, 2.5))


def test_resize_keep_ratio_and_bad_scale():
    out = MultiModalResize(scale=(640, 480))(_sample(h=240, w=320))
    assert out['img'].shape[:2] == (480, 640)
    out = MultiModalResize(scale=(100, 1000))(_sample(h=10, w=20))
    assert out['img'].shape[:2] == (100, 200)  # short edge 10 -> 100
    with pytest.raises(ValueError, match='scale'):
        MultiModalResize(scale=(0, 3))


def test_random_resize_range():
    np.random.seed(0)
    t = MultiModalRandomResize((8, 6), ratio_range=(0.5, 2.0))
    sizes = {t(_sample())['img'].shape[:2] for _ in range(10)}
    assert all(3 <= h <= 12 and 4 <= w <= 16 for h, w in sizes)
    assert len(sizes) > 1


def test_crop_and_flip_move_everything_identically():
    np.random.seed(1)
    r = _sample(h=10, w=12)
    # encode the pixel position in every channel and the label
    pos = np.arange(120).reshape(10, 12)
    r['img'] = np.repeat(pos[..., None], 4, 2).astype(np.float32)
    r['gt_seg_map'] = (pos % 251).astype(np.uint8)
    out = MultiModalRandomCrop((5, 7))(r)
    x1, y1, x2, y2 = out['crop_bbox']
    assert out['img'].shape == (5, 7, 4)
    np.testing.assert_array_equal(out['img'][..., 3], pos[y1:y2, x1:x2])
    np.testing.assert_array_equal(out['img'][..., 0], out['img'][..., 3])
    np.testing.assert_array_equal(out['gt_seg_map'],
                                  pos[y1:y2, x1:x2] % 251)
    flipped = MultiModalRandomFlip(prob=1.0)(out)
    assert flipped['flip'] and flipped['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(flipped['img'][..., 3],
                                  pos[y1:y2, x1:x2][:, ::-1])
    np.testing.assert_array_equal(flipped['gt_seg_map'],
                                  pos[y1:y2, x1:x2][:, ::-1] % 251)
    assert MultiModalRandomFlip(prob=0.0)(_sample())['flip'] is False


def test_crop_smaller_image_and_cat_max_ratio():
    out = MultiModalRandomCrop((20, 20))(_sample(h=6, w=8))
    assert out['img'].shape[:2] == (6, 8)
    np.random.seed(0)
    r = _sample(h=20, w=20)
    r['gt_seg_map'][:] = 1
    r['gt_seg_map'][:, 15:] = 2  # only windows reaching x>=15 have 2 classes
    out = MultiModalRandomCrop((10, 10), cat_max_ratio=0.95)(r)
    assert len(np.unique(out['gt_seg_map'])) == 2


def test_rotate_pads_with_holes_and_ignore():
    np.random.seed(0)
    r = _sample(h=9, w=9)
    r['img'][..., 3] = 2.0
    out = MultiModalRandomRotate(prob=1.0, degree=(45, 45))(r)
    assert out['img'][0, 0, 3] == 0.0 and out['gt_seg_map'][0, 0] == 255
    assert set(np.unique(out['img'][..., 3]).tolist()) <= {0.0, 2.0}
    assert out['img'][4, 4, 3] == 2.0


def test_pad():
    out = MultiModalPad((8, 10))(_sample(h=6, w=8))
    assert out['img'].shape == (8, 10, 4)
    assert (out['img'][6:] == 0).all() and (out['gt_seg_map'][:, 8:] ==
                                           255).all()
    assert out['pad_shape'] == (8, 10)


def test_requires_layout_keys():
    with pytest.raises(KeyError, match='LoadMultiModalImages'):
        MultiModalResize((4, 4))(dict(img=np.zeros((2, 2, 4), np.float32)))
