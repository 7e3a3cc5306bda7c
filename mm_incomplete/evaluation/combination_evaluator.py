"""One copy of the host evaluator per modality combination.

Shorthand: K combinations, N samples in the evaluated dataset.

Each combination gets its own :class:`mmengine.evaluator.Evaluator`, built from
the same config (mmseg ``IoUMetric``, mmpretrain ``Accuracy`` or any metric
list), so every metric keeps its own host behaviour: results are collected
across ranks by each evaluator's ``evaluate`` as in an ordinary val/test loop.
Metrics that write files (``IoUMetric(output_dir=...)``, ``DumpResults``) get
one folder / file per combination, named by it (:func:`route_outputs`).
"""
import copy
import os
import os.path as osp
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.dist import is_main_process
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


def combination_path(path: str, name: str, is_dir: bool) -> str:
    """Where combination ``name`` writes what ``path`` names.

    A folder gets a sub-folder per combination (``out/rgb+depth/``); a file
    gets the combination before its extension (``preds_rgb+depth.pkl``).

    Example:
        >>> combination_path('out', 'rgb+depth', is_dir=True)
        'out/rgb+depth'
        >>> combination_path('res/preds.pkl', 'depth', is_dir=False)
        'res/preds_depth.pkl'
    """
    if is_dir:
        return osp.join(path, name)
    stem, ext = osp.splitext(path)
    return f'{stem}_{name}{ext}'


def route_outputs(evaluator: Evaluator, name: str) -> None:
    """Give every metric that writes files its own path for ``name``.

    Without this every combination's copy writes to the same place and the
    last combination overwrites the others. Covers mmseg ``IoUMetric``'s
    ``output_dir`` (one PNG per image) and mmengine ``DumpResults``'s
    ``out_file_path`` (one pickle); the new paths are logged.
    """
    for metric in evaluator.metrics:
        out_dir = getattr(metric, 'output_dir', None)
        if out_dir:
            metric.output_dir = combination_path(out_dir, name, True)
            if is_main_process():
                os.makedirs(metric.output_dir, exist_ok=True)
            print_log(f'{type(metric).__name__} of combination "{name}" '
                      f'writes to {metric.output_dir}', logger='current')
        out_file = getattr(metric, 'out_file_path', None)
        if out_file:
            metric.out_file_path = combination_path(out_file, name, False)
            print_log(f'{type(metric).__name__} of combination "{name}" '
                      f'writes to {metric.out_file_path}', logger='current')


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
            route_outputs(built, name)
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
