"""Panel drawing: colour maps, label colours, tile sizes, readable text."""
import numpy as np
import pytest

from mm_incomplete.visualization import (cls_panel, colorize_labels,
                                         colorize_scalar, seg_panel)
from mm_incomplete.visualization.panels import scale_to, titled

NAMES, CHANNELS = ['rgb', 'depth'], [3, 1]


def test_colorize_scalar_keeps_holes_black_and_reports_the_range():
    depth = np.array([[0.0, 1.0], [2.5, np.nan]], np.float32)
    img, span = colorize_scalar(depth, 'm')
    assert span == '1.00-2.50 m'
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8
    assert (img[0, 0] == 0).all() and (img[1, 1] == 0).all()
    # near and far map to different colours, both not black
    assert img[0, 1].any() and img[1, 0].any()
    assert not np.array_equal(img[0, 1], img[1, 0])
    assert colorize_scalar(np.zeros((2, 2)))[1] == 'no valid values'


def test_colorize_labels_uses_the_palette_and_checks_ids():
    palette = [[10, 20, 30], [40, 50, 60]]
    label = np.array([[0, 1], [255, 1]])
    img = colorize_labels(label, palette)
    assert img[0, 0].tolist() == [10, 20, 30]
    assert img[0, 1].tolist() == [40, 50, 60]
    assert img[1, 0].tolist() == [0, 0, 0]  # ignored
    with pytest.raises(ValueError, match='class id 2 has no colour'):
        colorize_labels(np.array([[2]]), palette)


def test_small_images_are_scaled_up_and_titled_readably():
    tile = np.zeros((64, 64, 3), np.uint8)
    big = scale_to(tile, 256, nearest=True)
    assert big.shape == (256, 256, 3)
    assert scale_to(np.zeros((300, 400, 3), np.uint8), 256, True).shape == \
        (300, 400, 3)
    with_title = titled(big, ['rgb+depth'])
    strip = with_title[:with_title.shape[0] - 256]
    assert strip.shape[0] >= 21  # text line height ~ width / 12
    dark = (strip < 128).all(axis=2)
    assert dark.any(), 'no text drawn'
    rows = np.nonzero(dark.any(axis=1))[0]
    assert rows.max() - rows.min() >= 10  # glyphs at least 10 px tall


def test_seg_panel_has_modalities_gt_and_each_prediction():
    img = np.zeros((8, 8, 4), np.float32)
    img[..., :3] = 200
    img[..., 3] = np.linspace(0.5, 4, 64).reshape(8, 8)
    preds = {'rgb+depth': np.zeros((8, 8), int), 'rgb': np.ones((8, 8), int),
             'depth': np.zeros((8, 8), int)}
    palette = [[255, 0, 0], [0, 0, 255]]
    panel = seg_panel(img, NAMES, CHANNELS, preds, palette,
                      gt=np.ones((8, 8), int), min_size=64)
    # rgb, depth, gt, 3 predictions: 6 tiles of 64 px and 5 gaps of 4 px
    assert panel.shape[1] == 6 * 64 + 5 * 4
    body = panel[-64:]
    tile = lambda k: body[:, k * 68:k * 68 + 64].reshape(-1, 3)  # noqa
    assert (tile(0) == 200).all()  # rgb as it is
    assert (tile(2) == [0, 0, 255]).all()  # ground truth: class 1
    # predictions blended 50/50 over rgb: class 0 red, class 1 blue
    assert (tile(3) == [227, 100, 100]).all()
    assert (tile(4) == [100, 100, 227]).all()
    with pytest.raises(ValueError, match="prediction of 'rgb' is"):
        seg_panel(img, NAMES, CHANNELS, {'rgb': np.zeros((4, 4), int)},
                  palette)


def test_missing_modality_tile_is_grey_and_titled():
    img = np.zeros((8, 8, 4), np.float32)
    panel = seg_panel(img, NAMES, CHANNELS, {'rgb': np.zeros((8, 8), int)},
                      [[1, 2, 3]], present=[True, False], min_size=64)
    body = panel[-64:]
    assert (body[:, 68:132] == 96).all()


def test_cls_panel_marks_wrong_predictions():
    img = np.zeros((16, 16, 4), np.float32)
    panel = cls_panel(img, NAMES, CHANNELS,
                      {'rgb+depth': (0, 0.9), 'depth': (1, 0.6)},
                      classes=['cat', 'dog'], gt=0, min_size=64)
    assert panel.dtype == np.uint8
    # two modality tiles of 64 px, then a text column of 128 px
    assert panel.shape[1] == 64 + 4 + 64 + 4 + 128
