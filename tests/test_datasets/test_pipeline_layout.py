"""A dataset hands its layout to its pipeline's loading step."""
import cv2
import numpy as np
import pytest

from mm_incomplete.datasets import MultiModalClsDataset, MultiModalSegDataset
from mm_incomplete.datasets.pipeline_layout import fill_pipeline_layout
from mm_incomplete.modality import ModalityLayout


def test_fill_keeps_given_steps_and_copies():
    pipeline = [dict(type='LoadMultiModalImages', to_gray=('ir', )),
                dict(type='MultiModalRandomFlip')]
    layout = ModalityLayout('rgb:3,ir:1')
    out = fill_pipeline_layout(pipeline, layout)
    assert out[0]['modalities'] == layout and out[0]['to_gray'] == ('ir', )
    assert 'modalities' not in pipeline[0]  # the config is not modified
    assert out[1] is pipeline[1]
    same = fill_pipeline_layout(
        [dict(type='LoadMultiModalImages', modalities=dict(rgb=3, ir=1))],
        layout)
    assert ModalityLayout(same[0]['modalities']) == layout


def test_disagreement_names_both_places():
    with pytest.raises(ValueError) as err:
        fill_pipeline_layout(
            [dict(type='MultiModalRandomFlip'),
             dict(type='LoadMultiModalImages', modalities='rgb:3,depth:1')],
            ModalityLayout('rgb:3,ir:1'), 'MyDataset')
    msg = str(err.value)
    assert "MyDataset.pipeline[1] (LoadMultiModalImages) modalities " \
        "ModalityLayout('rgb:3,depth:1')" in msg
    assert "MyDataset.modalities ModalityLayout('rgb:3,ir:1')" in msg


def test_datasets_load_with_their_own_layout(tmp_path):
    rng = np.random.default_rng(0)
    for d, arr in (('rgb', rng.integers(0, 255, (4, 5, 3), np.uint8)),
                   ('ir', rng.integers(0, 255, (4, 5), np.uint8)),
                   ('label', np.ones((4, 5), np.uint8))):
        (tmp_path / d / 'train').mkdir(parents=True)
        assert cv2.imwrite(str(tmp_path / d / 'train' / 'a.png'), arr)
    seg = MultiModalSegDataset(
        'rgb:3,ir:1', split='train', data_root=str(tmp_path),
        metainfo=dict(classes=('x', 'y')),
        pipeline=[dict(type='LoadMultiModalImages')])
    out = seg[0]
    assert out['img'].shape == (4, 5, 4)
    assert out['modality_kinds'] == ('colour', 'other')
    with open(tmp_path / 'ann.txt', 'w') as f:
        f.write('rgb/train/a.png ir/train/a.png 1\n')
    with pytest.raises(ValueError, match='MultiModalClsDataset.modalities'):
        MultiModalClsDataset(
            'rgb:3,ir:1', 'ann.txt', data_root=str(tmp_path),
            classes=['x', 'y'],
            pipeline=[dict(type='LoadMultiModalImages', modalities='rgb:3')])
