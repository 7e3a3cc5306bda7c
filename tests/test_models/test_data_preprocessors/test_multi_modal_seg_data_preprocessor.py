"""Tests of MultiModalSegDataPreProcessor: statistics, RGB slice, masks."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mm_incomplete.models.data_preprocessors import \
    MultiModalSegDataPreProcessor
from mm_incomplete.modality import set_modality_masks

MEAN = dict(rgb=[120., 110., 100.], depth=[3.])
STD = dict(rgb=[60., 50., 40.], depth=[2.])


def make(**kwargs):
    cfg = dict(modalities=dict(rgb=3, depth=1), mean=MEAN, std=STD)
    cfg.update(kwargs)
    return MultiModalSegDataPreProcessor(**cfg)


def batch(n=2, h=6, w=5, labels=True):
    torch.manual_seed(1)
    inputs = [torch.rand(4, h, w) * 255 for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample()
        if labels:
            s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, h, w)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_per_modality_normalisation_by_hand():
    data = batch()
    raw = torch.stack(data['inputs'])
    out = make()(data, training=False)
    mean = torch.tensor([120., 110., 100., 3.]).view(1, 4, 1, 1)
    std = torch.tensor([60., 50., 40., 2.]).view(1, 4, 1, 1)
    torch.testing.assert_close(out['inputs'], (raw - mean) / std)
    assert [s.modality_mask.tolist() for s in out['data_samples']] == \
        [[True, True]] * 2


def test_rgb_swap_acts_on_the_rgb_slice_only():
    # depth first, so the RGB slice is channels 1..3
    pre = MultiModalSegDataPreProcessor(
        modalities='depth:1,rgb:3', bgr_to_rgb=True)
    img = torch.arange(4.).view(4, 1, 1).expand(4, 2, 2).clone()
    out = pre(dict(inputs=[img], data_samples=[SegDataSample()]))
    assert out['inputs'][0, :, 0, 0].tolist() == [0., 3., 2., 1.]
    # mmseg's own preprocessor leaves a 4-channel input untouched
    from mmseg.models import SegDataPreProcessor
    host = SegDataPreProcessor(bgr_to_rgb=True)(
        dict(inputs=[img], data_samples=[SegDataSample()]))
    assert host['inputs'][0, :, 0, 0].tolist() == [0., 1., 2., 3.]


def test_mean_applies_after_the_swap():
    pre = make(rgb_to_bgr=True, std=dict(rgb=[1., 1., 1.], depth=[1.]))
    img = torch.tensor([10., 20., 30., 5.]).view(4, 1, 1)
    out = pre(dict(inputs=[img], data_samples=[SegDataSample()]))
    # channels become (30, 20, 10, 5) and then minus (120, 110, 100, 3)
    assert out['inputs'][0, :, 0, 0].tolist() == [-90., -90., -90., 2.]


def test_training_mask_is_drawn_and_zeroes_channels():
    pre = make(train_sampler=dict(type='ModDrop', drop_prob=0.5, seed=0),
               size_divisor=4)
    data = batch(n=8)
    out = pre(data, training=True)
    mask = torch.stack([s.modality_mask for s in out['data_samples']])
    assert mask.any(1).all() and not mask.all()
    assert out['inputs'].shape == (8, 4, 8, 8)
    keep = mask.repeat_interleave(torch.tensor([3, 1]), dim=1)
    assert (out['inputs'][~keep] == 0).all()
    assert (out['inputs'][keep][:, :6, :5] != 0).any()
    # padding: inputs with pad_val 0, labels with seg_pad_val 255
    gt = out['data_samples'][0].gt_sem_seg.data
    assert gt.shape == (1, 8, 8) and (gt[:, 6:] == 255).all()


def test_eval_uses_test_combination_and_keeps_existing_masks():
    pre = make(test_combination='rgb')
    data = batch(n=2, labels=False)
    set_modality_masks(data['data_samples'][1:],
                       torch.tensor([[False, True]]))
    out = pre(data, training=False)
    assert [s.modality_mask.tolist() for s in out['data_samples']] == \
        [[True, False], [False, True]]
    assert (out['inputs'][0, 3] == 0).all() and (out['inputs'][1, :3] == 0
                                                 ).all()
    pre.test_combination = 'depth+rgb'
    assert pre.test_combination == ('rgb', 'depth')
    pre.test_combination = None
    assert pre.test_combination == ('rgb', 'depth')


def test_test_cfg_padding_in_eval():
    pre = make(test_cfg=dict(size_divisor=8))
    out = pre(batch(n=1, labels=False), training=False)
    assert out['inputs'].shape == (1, 4, 8, 8)
    assert out['data_samples'][0].img_padding_size == (0, 3, 0, 2)


def test_errors_name_the_option():
    with pytest.raises(ValueError, match=r"missing \['depth'\]"):
        make(mean=dict(rgb=[0., 0., 0.]), std=dict(rgb=[1., 1., 1.]))
    with pytest.raises(ValueError, match='mean.rgb` needs 3 values'):
        make(mean=dict(rgb=[0.], depth=[0.]))
    with pytest.raises(ValueError, match='both `mean` and `std`'):
        make(std=None)
    with pytest.raises(ValueError, match='std must be positive'):
        make(std=dict(rgb=1., depth=0.))
    with pytest.raises(ValueError, match='not a 3-channel modality'):
        make(bgr_to_rgb=True, rgb_modality='depth')
    with pytest.raises(ValueError, match='test_combination'):
        make(test_combination='ir')
    with pytest.raises(ValueError, match='needs 4'):
        make()(dict(inputs=[torch.rand(3, 4, 4)],
                    data_samples=[SegDataSample()]))



NYU_MINI = '/work/shared/data/nyuv2_mini/0001'


@pytest.mark.skipif(not __import__('os').path.isdir(NYU_MINI),
                    reason='real NYUv2 fixture not present')
@pytest.mark.parametrize('pipeline_layout, files, extra', [
    (dict(depth=1, rgb=3), dict(depth='depth_mm.png', rgb='rgb.jpg'), {}),
    (dict(rgb=3, hha=1), dict(rgb='rgb.jpg', hha='hha.jpg'),
     dict(depth_modalities=(), to_gray=('hha', ))),
])
def test_samples_of_another_layout_are_refused(pipeline_layout, files,
                                               extra):
    """A real frame loaded with another order (depth, rgb) or another name
    of the same size (hha for depth) has the model's 4 channels, but its
    modality names differ: an error naming the file and both layouts."""
    import os.path as osp

    from mmcv.transforms import Compose

    from mm_incomplete.datasets.transforms import (LoadMultiModalImages,
                                                   PackMultiModalSegInputs)
    load = Compose([
        LoadMultiModalImages(pipeline_layout, **extra),
        PackMultiModalSegInputs()
    ])
    paths = {k: osp.join(NYU_MINI, v) for k, v in files.items()}
    packed = load(dict(modality_paths=paths))
    assert packed['inputs'].shape[0] == 4  # same channel count
    pre = make()
    data = dict(inputs=[packed['inputs']],
                data_samples=[packed['data_samples']])
    for training in (True, False):
        with pytest.raises(ValueError) as err:
            pre(data, training=training)
        msg = str(err.value)
        got = ','.join(f'{n}:{c}' for n, c in pipeline_layout.items())
        assert f"holds the modalities '{got}'" in msg
        assert "ModalityLayout('rgb:3,depth:1')" in msg
        assert paths.get('rgb') in msg
    # the matching layout passes
    ok = Compose([
        LoadMultiModalImages(dict(rgb=3, depth=1)),
        PackMultiModalSegInputs()
    ])(dict(modality_paths=dict(rgb=osp.join(NYU_MINI, 'rgb.jpg'),
                                depth=osp.join(NYU_MINI, 'depth_mm.png'))))
    out = pre(dict(inputs=[ok['inputs']], data_samples=[ok['data_samples']]))
    assert out['inputs'].shape == (1, 4, 480, 640)
