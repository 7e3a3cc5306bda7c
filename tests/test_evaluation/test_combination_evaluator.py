"""One host evaluator copy per combination."""
import pytest
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
