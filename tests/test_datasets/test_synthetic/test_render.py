"""The synthetic classes really need both modalities."""
import numpy as np

from mm_incomplete.datasets.synthetic import OBJECT_CLASSES, render_scene


def _render(kind, seed=0):
    return render_scene(np.random.default_rng(seed), 48, [kind], [(24, 30)])


def test_geometry_classes_identical_in_rgb_different_in_depth():
    rgb_s, depth_s, lab_s = _render('sphere')
    for other in ('disc', 'cone', 'bowl'):
        rgb_o, depth_o, lab_o = _render(other)
        np.testing.assert_array_equal(rgb_s, rgb_o)  # RGB cannot tell
        obj = (lab_s > 0) & (depth_s > 0) & (depth_o > 0)
        assert np.abs(depth_s[obj] - depth_o[obj]).mean() > 0.03  # depth can
    assert lab_s.max() == 1 + OBJECT_CLASSES.index('sphere')


def test_appearance_classes_identical_in_depth_different_in_rgb():
    rgb_r, depth_r, lab_r = _render('red_box')
    rgb_b, depth_b, lab_b = _render('blue_box')
    np.testing.assert_array_equal(depth_r, depth_b)  # depth cannot tell
    obj = lab_r > 0
    red = rgb_r[obj].astype(float).mean(0)
    blue = rgb_b[obj].astype(float).mean(0)
    assert red[0] > red[2] + 50 and blue[2] > blue[0] + 50  # RGB can


def test_nuisances_present():
    rgb, depth, label = render_scene(
        np.random.default_rng(3), 64, ['sphere', 'red_box', 'cone'],
        [(16, 20), (40, 40), (50, 12)])
    assert rgb.dtype == np.uint8 and depth.dtype == np.float32
    assert (depth == 0).any()  # holes
    assert depth[depth > 0].min() > 0.5 and depth.max() < 5.0  # metres
    floor = (label == 0) & (depth > 0)
    # depth noise: the floor is not exactly planar row by row
    assert np.std(np.diff(depth * floor, axis=1)[floor[:, 1:] & floor[:, :-1]
                                                 ]) > 1e-3
    assert set(np.unique(label)) <= set(range(len(OBJECT_CLASSES) + 1))
