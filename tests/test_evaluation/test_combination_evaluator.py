"""One host evaluator copy per combination."""
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator

from mm_incomplete.evaluation import CombinationEvaluator


class MeanValue(BaseMetric):
    default_prefix = 'mv'

    def process(self, data_batch, data_samples):
        self.results.extend(s['v'] for s in data_samples)

    def compute_metrics(self, results):
        return {'mean': sum(results) / len(results)}


def test_copies_are_independent():
    ev = CombinationEvaluator(Evaluator(MeanValue()), ['rgb', 'depth'])
    assert ev['rgb'] is not ev['depth']
    ev.process('rgb', [{'v': 1.0}, {'v': 3.0}])
    ev.process('depth', [{'v': 10.0}, {'v': 20.0}])
    out = ev.evaluate(2)
    assert list(out) == ['rgb', 'depth']
    assert out['rgb'] == {'mv/mean': 2.0}
    assert out['depth'] == {'mv/mean': 15.0}


def test_dataset_meta_reaches_every_copy():
    ev = CombinationEvaluator([MeanValue()], ['a', 'b', 'a+b'])
    ev.dataset_meta = {'classes': ('x', )}
    assert all(e.dataset_meta == {'classes': ('x', )}
               for e in ev.evaluators.values())


def test_refuses_used_evaluator():
    used = Evaluator(MeanValue())
    used.process([{'v': 1.0}])
    with pytest.raises(ValueError, match='MeanValue.*processed results'):
        CombinationEvaluator(used, ['rgb'])


def test_combination_path_names():
    from mm_incomplete.evaluation.combination_evaluator import \
        combination_path
    assert combination_path('out', 'rgb+depth', True) == 'out/rgb+depth'
    assert combination_path('r/p.pkl', 'depth', False) == 'r/p_depth.pkl'


def _seg_samples(preds):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    out = []
    for i, pred in enumerate(preds):
        s = SegDataSample(metainfo=dict(img_path=f'/x/img{i}.png'))
        s.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
        s.gt_sem_seg = PixelData(data=torch.zeros_like(
            torch.as_tensor(pred))[None])
        out.append(s.to_dict())
    return out


def test_segmentation_outputs_go_to_one_folder_per_combination(tmp_path):
    """--out DIR: IoUMetric of each combination writes DIR/<combination>/."""
    import cv2
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    out = str(tmp_path / 'preds')
    ev = CombinationEvaluator(
        dict(type='IoUMetric', iou_metrics=['mIoU'], output_dir=out,
             keep_results=True), ['rgb+depth', 'rgb', 'depth'])
    ev.dataset_meta = dict(classes=('a', 'b', 'c'))
    rng = np.random.default_rng(0)
    preds = {c: [rng.integers(0, 3, (5, 6)) for _ in range(2)]
             for c in ev.names}
    for c in ev.names:
        ev.process(c, _seg_samples(preds[c]))
    ev.evaluate(2)
    assert sorted(os.listdir(out)) == ['depth', 'rgb', 'rgb+depth']
    for c in ev.names:
        for i in range(2):
            saved = cv2.imread(os.path.join(out, c, f'img{i}.png'),
                               cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(saved, preds[c][i])


def test_dumped_results_one_file_per_combination(tmp_path):
    """--out FILE.pkl (classification): FILE_<combination>.pkl each."""
    import pickle
    out = str(tmp_path / 'preds.pkl')
    ev = CombinationEvaluator(
        [MeanValue(), dict(type='DumpResults', out_file_path=out)],
        ['rgb', 'depth'])
    ev.process('rgb', [{'v': 1.0}, {'v': 2.0}])
    ev.process('depth', [{'v': 7.0}, {'v': 9.0}])
    ev.evaluate(2)
    assert not os.path.exists(out)
    for combo, values in (('rgb', [1.0, 2.0]), ('depth', [7.0, 9.0])):
        with open(str(tmp_path / f'preds_{combo}.pkl'), 'rb') as f:
            assert [d['v'] for d in pickle.load(f)] == values
