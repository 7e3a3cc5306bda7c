"""Tests of MultiModalClsDataPreProcessor: statistics, RGB slice, masks."""
import pytest
import torch
from mmpretrain.structures import DataSample

from mm_incomplete.models.data_preprocessors import \
    MultiModalClsDataPreProcessor


def make(**kwargs):
    cfg = dict(modalities=dict(rgb=3, depth=1),
               mean=dict(rgb=[120., 110., 100.], depth=3.),
               std=dict(rgb=[60., 50., 40.], depth=2.))
    cfg.update(kwargs)
    return MultiModalClsDataPreProcessor(**cfg)


def samples(n):
    return [DataSample().set_gt_label(i % 3) for i in range(n)]


def test_normalisation_and_swap_by_hand_for_stacked_tensor():
    pre = make(bgr_to_rgb=True)
    raw = torch.rand(2, 4, 3, 3) * 255
    out = pre(dict(inputs=raw.clone(), data_samples=samples(2)))
    swapped = raw[:, [2, 1, 0, 3]]
    mean = torch.tensor([120., 110., 100., 3.]).view(1, 4, 1, 1)
    std = torch.tensor([60., 50., 40., 2.]).view(1, 4, 1, 1)
    torch.testing.assert_close(out['inputs'], (swapped - mean) / std)


def test_list_inputs_padding_and_eval_combination():
    pre = make(pad_size_divisor=4, test_combination='depth')
    out = pre(dict(inputs=[torch.rand(4, 5, 6) * 255] * 2,
                   data_samples=samples(2)))
    assert out['inputs'].shape == (2, 4, 8, 8)
    assert (out['inputs'][:, :3] == 0).all()
    assert out['data_samples'][0].modality_mask.tolist() == [False, True]


def test_training_mask_and_batch_augments_with_onehot_labels():
    pre = make(train_sampler=dict(type='FixedCombination',
                                  combination='rgb'),
               num_classes=3,
               batch_augments=dict(augments=[dict(type='Mixup', alpha=1.)]))
    out = pre(dict(inputs=torch.rand(4, 4, 4, 4) * 255,
                   data_samples=samples(4)), training=True)
    assert (out['inputs'][:, 3] == 0).all()
    assert out['data_samples'][0].gt_score.shape == (3, )
    assert all(s.modality_mask.tolist() == [True, False]
               for s in out['data_samples'])


def test_samples_of_another_layout_are_refused_naming_both():
    batch = samples(2)
    for s in batch:
        s.set_metainfo(dict(modalities=('depth', 'rgb'),
                            modality_channels=(1, 3)))
    with pytest.raises(ValueError, match="modalities 'depth:1,rgb:3'.*"
                       r"data_preprocessor.modalities is ModalityLayout"):
        make()(dict(inputs=torch.rand(2, 4, 3, 3), data_samples=batch))
