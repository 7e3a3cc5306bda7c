"""MultiModalInferencer: missing modalities, paths or arrays, per combination.

Tiny randomly initialised models (ResNet-18 branches of width 4) from our
synthetic configs; the real NYUv2 frames of nyuv2_mini for the file path
case.
"""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mm_incomplete.apis import MultiModalInferencer
from mm_incomplete.utils import config_path

MINI = '/work/shared/data/nyuv2_mini'
TINY_SEG = dict(model=dict(
    backbone=dict(base_channels=4),
    decode_head=dict(in_channels=[4, 8, 16, 32], channels=8)))
TINY_CLS = dict(model=dict(backbone=dict(base_channels=4),
                           head=dict(in_channels=32)))


def seg_config():
    cfg = Config.fromfile(
        config_path('baselines/multi_branch_moddrop_synthetic_seg_cpu.py'))
    cfg.merge_from_dict(TINY_SEG)
    return cfg


def make_inferencer(cfg, weights=None):
    torch.manual_seed(0)
    inf = MultiModalInferencer(cfg, weights=weights, device='cpu')
    # larger logits than the 0.01-std init so the argmax varies by pixel
    head = getattr(inf.model, 'decode_head', None)
    if head is not None and weights is None:
        torch.nn.init.normal_(head.conv_seg.weight, std=1.0)
    return inf


@pytest.fixture(scope='module')
def seg():
    return make_inferencer(seg_config())


def sample_arrays(seed=0, size=64):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    depth = rng.integers(500, 5000, (size, size)).astype(np.uint16)  # mm
    return rgb, depth


def test_full_sample_predicts_every_combination(seg):
    rgb, depth = sample_arrays()
    out = seg({'rgb': rgb, 'depth': depth})
    assert out['present'] == ['rgb', 'depth']
    assert list(out['predictions']) == ['rgb+depth', 'rgb', 'depth']
    preds = list(out['predictions'].values())
    for pred in preds:
        assert pred.shape == (64, 64) and pred.dtype == np.int64
        assert 0 <= pred.min() and pred.max() < 9
    # the combinations really differ (the mask reaches the model)
    assert not np.array_equal(preds[1], preds[2])


def test_missing_depth_is_a_first_class_input(seg):
    rgb, depth = sample_arrays(1)
    full = seg({'rgb': rgb, 'depth': depth})
    for missing in ({'rgb': rgb, 'depth': None}, {'rgb': rgb}):
        out = seg(missing)
        assert out['present'] == ['rgb']
        assert list(out['predictions']) == ['rgb']
        # the depth values cannot leak: rgb alone equals the rgb combination
        # predicted from the full sample
        np.testing.assert_array_equal(out['predictions']['rgb'],
                                      full['predictions']['rgb'])
    # 'present' asks only for the combination of what is there
    out = seg({'rgb': rgb, 'depth': depth}, combination='present')
    assert list(out['predictions']) == ['rgb+depth']
    np.testing.assert_array_equal(out['predictions']['rgb+depth'],
                                  full['predictions']['rgb+depth'])


def test_data_samples_carry_the_present_mask(seg):
    rgb, _ = sample_arrays(2)
    batch = seg.preprocess({'rgb': rgb, 'depth': None})
    mask = batch['data_samples'][0].modality_mask
    assert mask.tolist() == [True, False]
    assert batch['inputs'][0][3].abs().sum() == 0  # zero-filled depth
    out = seg({'rgb': rgb}, return_datasamples=True)
    assert out['predictions']['rgb'].modality_mask.tolist() == [True, False]


def test_errors_name_the_problem(seg):
    rgb, depth = sample_arrays()
    with pytest.raises(ValueError, match=r"'rgb\+depth' needs \['depth'\]"):
        seg({'rgb': rgb, 'depth': None}, combination='rgb+depth')
    with pytest.raises(KeyError, match='hha'):
        seg({'rgb': rgb, 'hha': rgb})
    with pytest.raises(ValueError, match='no modality'):
        seg({'rgb': None, 'depth': None})
    with pytest.raises(ValueError, match='differ in size'):
        seg({'rgb': rgb, 'depth': depth[:32]})
    with pytest.raises(ValueError, match='uint8'):  # depth as colour image
        seg({'rgb': rgb, 'depth': rgb})
    with pytest.raises(FileNotFoundError, match='nowhere.png'):
        seg({'rgb': '/nowhere.png'})


def test_panel_shows_each_modality_and_prediction(seg):
    rgb, depth = sample_arrays(3)
    out = seg({'rgb': rgb, 'depth': depth})
    panel = out['visualization']
    assert panel.dtype == np.uint8 and panel.ndim == 3
    # 2 modality tiles + 3 predictions, each at least 256 px wide
    assert panel.shape[1] >= 5 * 256 and panel.shape[0] > 256
    missing = seg({'rgb': rgb})['visualization']
    assert missing.shape[1] >= 3 * 256 and missing.shape[1] < 4 * 256
    # the depth tile (second) is the uniform "missing" grey
    tile = missing[-100:, 256 + 4 + 10:2 * 256 - 10]
    assert (tile == 96).all()


def test_checkpoint_is_loaded(tmp_path, seg):
    path = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': seg.model.state_dict(),
                'meta': {'dataset_meta': {'classes': tuple('abcdefghi')}}},
               path)
    torch.manual_seed(123)  # another random init, overwritten by the file
    other = MultiModalInferencer(seg_config(), weights=path, device='cpu')
    assert other.dataset_meta['classes'] == tuple('abcdefghi')
    rgb, depth = sample_arrays(4)
    a = seg({'rgb': rgb, 'depth': depth})['predictions']
    b = other({'rgb': rgb, 'depth': depth})['predictions']
    for combo in a:
        np.testing.assert_array_equal(a[combo], b[combo])
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MultiModalInferencer(seg_config(), weights=str(tmp_path /
                                                       'missing.pth'))


@pytest.mark.skipif(not osp.isdir(MINI), reason='nyuv2_mini fixture absent')
def test_real_nyuv2_frame_from_files(seg, tmp_path):
    rgb_path = osp.join(MINI, '0001', 'rgb.jpg')
    depth_path = osp.join(MINI, '0001', 'depth_raw_mm.png')
    sample = {'rgb': rgb_path, 'depth': depth_path}
    stacked = seg.stack(sample)
    raw = cv2.imread(depth_path, cv2.IMREAD_UNCHANGED)
    bgr = cv2.imread(rgb_path)
    assert stacked.shape == (480, 640, 4)
    np.testing.assert_allclose(stacked[..., 3], raw / 1000.0, rtol=1e-6)
    np.testing.assert_array_equal(stacked[..., :3], bgr[..., ::-1])
    assert (stacked[..., 3] == 0).mean() > 0.1  # raw depth keeps its holes
    out = seg(sample, out_dir=str(tmp_path / 'vis'))
    assert list(out['predictions']) == ['rgb+depth', 'rgb', 'depth']
    assert out['predictions']['rgb'].shape == (480, 640)
    files = sorted(os.listdir(tmp_path / 'vis'))
    assert files == ['rgb_depth.png', 'rgb_panel.png', 'rgb_rgb+depth.png',
                     'rgb_rgb.png']
    panel = cv2.imread(str(tmp_path / 'vis' / 'rgb_panel.png'))
    assert panel.shape[1] >= 5 * 640
    # a file path and the same content as an array give the same result
    arrays = seg({'rgb': bgr[..., ::-1].copy(), 'depth': raw})
    for combo, pred in out['predictions'].items():
        np.testing.assert_array_equal(arrays['predictions'][combo], pred)


def test_classifier_with_depth_alone():
    cfg = Config.fromfile(
        config_path('baselines/multi_branch_moddrop_synthetic_cls_cpu.py'))
    cfg.merge_from_dict(TINY_CLS)
    inf = make_inferencer(cfg)
    torch.nn.init.normal_(inf.model.head.fc.weight, std=1.0)
    _, depth = sample_arrays(5)
    out = inf({'rgb': None, 'depth': depth})
    assert list(out['predictions']) == ['depth']
    pred = out['predictions']['depth']
    assert pred['pred_scores'].shape == (8, )
    assert pred['pred_scores'].sum() == pytest.approx(1.0, abs=1e-5)
    assert pred['pred_label'] == int(pred['pred_scores'].argmax())
    assert pred['pred_score'] == pytest.approx(pred['pred_scores'].max())
    assert inf.dataset_meta['classes'][0] == 'sphere'
    assert out['visualization'].shape[1] >= 2 * 256


def test_demo_cli_writes_a_panel_and_an_overlay_per_combination(tmp_path):
    from mm_incomplete.apis.demo import main
    # a config file that inherits ours (Config.dump would sort the keys of
    # `modalities`, and with them the combination names)
    cfg_file = str(tmp_path / 'tiny_seg.py')
    base = config_path('baselines/multi_branch_moddrop_synthetic_seg_cpu.py')
    with open(cfg_file, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n')
        for key, value in TINY_SEG.items():
            f.write(f'{key} = {value!r}\n')
    rgb, depth = sample_arrays(6)
    cv2.imwrite(str(tmp_path / 'room.png'), rgb[..., ::-1])
    cv2.imwrite(str(tmp_path / 'room_depth.png'), depth)
    out_dir = str(tmp_path / 'out')
    result = main([str(tmp_path / 'room.png'), cfg_file, '--depth',
                   str(tmp_path / 'room_depth.png'), '--out-dir', out_dir,
                   '--device', 'cpu'])
    assert list(result['predictions']) == ['rgb+depth', 'rgb', 'depth']
    assert sorted(os.listdir(out_dir)) == [
        'room_depth.png', 'room_panel.png', 'room_rgb+depth.png',
        'room_rgb.png']
    # depth alone: RGB given as "-"
    result = main(['-', cfg_file, '--depth', str(tmp_path / 'room_depth.png'),
                   '--out-dir', out_dir, '--modalities', 'depth'])
    assert list(result['predictions']) == ['depth']
    assert osp.isfile(osp.join(out_dir, 'room_depth_panel.png'))
    assert osp.isfile(osp.join(out_dir, 'room_depth_depth.png'))
