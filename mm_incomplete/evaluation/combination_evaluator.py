"""One copy of the host evaluator per modality combination.

Shorthand: K combinations, N samples in the evaluated dataset.

Each combination gets its own :class:`mmengine.evaluator.Evaluator`, built from
the same config (mmseg ``IoUMetric``, mmpretrain ``Accuracy`` or any metric
list), so every metric keeps its own host behaviour: results are collected
across ranks by each evaluator's ``evaluate`` as in an ordinary val/test loop.
"""
import copy
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.registry import EVALUATOR

EvaluatorCfg = Union[Evaluator, dict, list]


def build_evaluator(cfg: EvaluatorCfg) -> Evaluator:
    """Build an evaluator as :meth:`mmengine.runner.Runner.build_evaluator`.

    Used where no runner exists (benchmarks, scripts); inside a loop the
    runner's own builder is used. ``cfg`` is not modified.
    """
    if isinstance(cfg, Evaluator):
        return cfg
    cfg = copy.deepcopy(cfg)
    if isinstance(cfg, dict) and 'metrics' in cfg:
        cfg.setdefault('type', 'Evaluator')
        return EVALUATOR.build(cfg)
    if isinstance(cfg, (dict, list)):
        return Evaluator(cfg)
    raise TypeError('evaluator should be an Evaluator, a dict or a list of '
                    f'metric configs, got {type(cfg).__name__}')


class CombinationEvaluator:
    """K copies of a host evaluator, one per combination name.

    Args:
        evaluator (Evaluator | dict | list): the host evaluator or its config.
            A config is built K times; a built evaluator is deep-copied K
            times (it must not hold processed results yet).
        names (list[str]): combination names, e.g. ``['rgb+depth', 'rgb']``.
        build_fn (callable, optional): config -> Evaluator; defaults to
            :func:`build_evaluator` (a loop passes ``runner.build_evaluator``).

    Example:
        >>> from mmengine.evaluator import BaseMetric
        >>> class Count(BaseMetric):
        ...     default_prefix = 'count'
        ...     def process(self, data_batch, data_samples):
        ...         self.results.extend(data_samples)
        ...     def compute_metrics(self, results):
        ...         return {'n': float(len(results))}
        >>> ev = CombinationEvaluator(Evaluator(Count()), ['rgb', 'depth'])
        >>> ev.process('rgb', [{'x': 1}, {'x': 2}])
        >>> ev.process('depth', [{'x': 1}, {'x': 2}])
        >>> metrics = ev.evaluate(2)  # logs 'Evaluating combination "rgb"'
        >>> dict(metrics)
        {'rgb': {'count/n': 2.0}, 'depth': {'count/n': 2.0}}
    """

    def __init__(self,
                 evaluator: EvaluatorCfg,
                 names: Sequence[str],
                 build_fn: Optional[Callable[[EvaluatorCfg],
                                             Evaluator]] = None):
        if not names:
            raise ValueError('CombinationEvaluator needs at least one '
                             'combination name')
        build_fn = build_fn or build_evaluator
        self.names: List[str] = list(names)
        self.evaluators: 'OrderedDict[str, Evaluator]' = OrderedDict()
        for name in self.names:
            if isinstance(evaluator, Evaluator):
                pending = [type(m).__name__ for m in evaluator.metrics
                           if getattr(m, 'results', None)]
                if pending:
                    raise ValueError(
                        f'cannot copy an evaluator whose metrics {pending} '
                        'already hold processed results')
                built = copy.deepcopy(evaluator)
            else:
                built = build_fn(copy.deepcopy(evaluator))
            self.evaluators[name] = built

    def __getitem__(self, name: str) -> Evaluator:
        return self.evaluators[name]

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self.evaluators[self.names[0]].dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: dict) -> None:
        for ev in self.evaluators.values():
            ev.dataset_meta = meta

    def process(self, name: str, data_samples: Sequence,
                data_batch: Optional[dict] = None) -> None:
        """Feed the predictions of combination ``name`` for one batch."""
        self.evaluators[name].process(data_samples=data_samples,
                                      data_batch=data_batch)

    def evaluate(self, size: int) -> 'OrderedDict[str, Dict]':
        """Compute each combination's metrics over ``size`` samples.

        Every rank must call this (each evaluator gathers across ranks).

        Returns:
            OrderedDict[str, dict]: ``{combination: host metrics}``.
        """
        out: 'OrderedDict[str, Dict]' = OrderedDict()
        for name, ev in self.evaluators.items():
            print_log(f'Evaluating combination "{name}"', logger='current')
            out[name] = ev.evaluate(size)
        return out
