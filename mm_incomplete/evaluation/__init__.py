"""Every-combination evaluation: loops, per-combination evaluators, records."""
from .combination_evaluator import CombinationEvaluator, build_evaluator
from .combination_metrics import (MEAN, available_metrics, dump_record,
                                  flatten_metrics, format_table, load_record,
                                  make_record, mean_over_combinations,
                                  metric_values, with_mean)
from .loops import MultiCombinationTestLoop, MultiCombinationValLoop
from .predict import (batch_with_combination, find_layout,
                      predict_every_combination)

__all__ = [
    'CombinationEvaluator', 'build_evaluator', 'MEAN', 'available_metrics',
    'dump_record', 'flatten_metrics', 'format_table', 'load_record',
    'make_record', 'mean_over_combinations', 'metric_values', 'with_mean',
    'MultiCombinationTestLoop', 'MultiCombinationValLoop',
    'batch_with_combination', 'find_layout', 'predict_every_combination'
]
