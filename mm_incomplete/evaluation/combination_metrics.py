"""Per-combination metrics: flat keys, the mean over combinations, table, JSON.

Shorthand: K combinations, one dict of host metrics per combination.

The host evaluator returns one flat dict per combination (mmseg ``IoUMetric``:
``{'aAcc', 'mIoU', 'mAcc'}``, mmpretrain ``Accuracy``: ``{'accuracy/top1'}``).
This module turns the K dicts into

- the runner's metrics dict, every key prefixed with its combination name and
  a ``mean`` row added: ``rgb/mIoU``, ``rgb+depth/mIoU``, ``mean/mIoU``,
  ``mean/accuracy/top1`` (so ``save_best='mean/mIoU'`` works);
- a plain-text table for the log (rows: combinations + mean, cols: metrics);
- the JSON record written to the work dir and read by
  ``tools/analysis/plot_combinations.py`` (schema in :func:`make_record`).
"""
import json
import os
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch

MEAN = 'mean'
SCHEMA_VERSION = 1

PerCombination = Dict[str, Dict[str, Any]]


def to_builtin(value: Any) -> Any:
    """numpy / torch scalars and arrays to Python floats and lists."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtin(v) for v in value]
    return value


def _numeric(value: Any) -> Optional[np.ndarray]:
    """``value`` as a float array, or None where it is not numeric."""
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        arr = np.asarray(to_builtin(value), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr


def mean_over_combinations(per_combination: PerCombination) -> Dict[str, Any]:
    """Mean of every metric over the K combinations.

    A metric enters the mean where every combination reports it with the same
    shape (scalars, or per-class lists averaged element-wise); other entries
    (strings, ragged lists) are left out.

    Args:
        per_combination (dict[str, dict]): ``{combination: {metric: value}}``.

    Returns:
        dict: ``{metric: mean}`` in the metric order of the first combination.

    Example:
        >>> mean_over_combinations({'rgb': {'mIoU': 40.0},
        ...                         'depth': {'mIoU': 30.0}})
        {'mIoU': 35.0}
    """
    rows = list(per_combination.values())
    if not rows:
        return {}
    mean = {}
    for key in rows[0]:
        arrays = [_numeric(row.get(key)) for row in rows]
        if any(a is None for a in arrays) or \
                len({a.shape for a in arrays}) != 1:
            continue
        avg = np.mean(np.stack(arrays), axis=0)
        mean[key] = avg.item() if avg.ndim == 0 else avg.tolist()
    return mean


def flatten_metrics(per_combination: PerCombination) -> Dict[str, Any]:
    """``{combination: {metric: v}}`` to ``{'combination/metric': v}``.

    Example:
        >>> flatten_metrics({'rgb': {'mIoU': 40.0}, 'mean': {'mIoU': 40.0}})
        {'rgb/mIoU': 40.0, 'mean/mIoU': 40.0}
    """
    return {f'{name}/{key}': value
            for name, metrics in per_combination.items()
            for key, value in metrics.items()}


def with_mean(per_combination: PerCombination) -> PerCombination:
    """A copy of ``per_combination`` with the ``mean`` row appended."""
    if MEAN in per_combination:
        raise ValueError(f'"{MEAN}" is reserved for the mean over '
                         'combinations and cannot name a combination')
    out = dict(per_combination)
    out[MEAN] = mean_over_combinations(per_combination)
    return out


def _cell(value: Any, digits: int) -> str:
    arr = _numeric(value)
    if arr is None or arr.ndim != 0:
        return '-'
    return f'{float(arr):.{digits}f}'


def format_table(per_combination: PerCombination, digits: int = 2) -> str:
    """Plain-text table: a row per combination (and mean), a col per metric.

    Only metrics with a scalar value somewhere become columns.

    Example:
        >>> print(format_table({'rgb': {'mIoU': 40.0},
        ...                     'mean': {'mIoU': 40.0}}))
        +-------------+-------+
        | combination |  mIoU |
        +-------------+-------+
        | rgb         | 40.00 |
        | mean        | 40.00 |
        +-------------+-------+
    """
    columns: List[str] = []
    for metrics in per_combination.values():
        for key, value in metrics.items():
            arr = _numeric(value)
            if key not in columns and arr is not None and arr.ndim == 0:
                columns.append(key)
    header = ['combination'] + columns
    rows = [[name] + [_cell(metrics.get(c), digits) for c in columns]
            for name, metrics in per_combination.items()]
    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(cells):
        first = f' {cells[0]:<{widths[0]}} '
        rest = [f' {c:>{w}} ' for c, w in zip(cells[1:], widths[1:])]
        return '|' + '|'.join([first] + rest) + '|'

    return '\n'.join([rule, line(header), rule] + [line(r) for r in rows] +
                     [rule])


def make_record(per_combination: PerCombination, stage: str,
                modalities: Optional[Mapping[str, int]] = None,
                **info: Any) -> Dict[str, Any]:
    """The JSON record of one every-combination evaluation.

    Schema (version 1)::

        {
          "schema": "mm_incomplete.combination_metrics", "version": 1,
          "stage": "val" | "test",
          "combinations": ["rgb+depth", "rgb", "depth"],  # in eval order
          "metrics": {"rgb+depth": {"mIoU": 41.2, ...}, ...,
                      "mean": {"mIoU": 35.0, ...}},
          "modalities": {"rgb": 3, "depth": 1},
          ... any ``info``: "model", "config", "experiment", "checkpoint",
              "epoch", "iter", "num_samples", "timestamp", "method_state"
              (the loops: ``{selector path: [selected combinations]}``)
        }

    Args:
        per_combination (dict): ``{combination: {metric: value}}`` with or
            without the ``mean`` row (added when absent).
        stage (str): ``'val'`` or ``'test'``.
        modalities (dict[str, int], optional): the layout, name -> channels.
        **info: more top-level fields.

    Example:
        >>> r = make_record({'rgb': {'mIoU': 40.0}}, 'test', model='M')
        >>> r['combinations'], r['metrics']['mean'], r['model']
        (['rgb'], {'mIoU': 40.0}, 'M')
    """
    if MEAN not in per_combination:
        per_combination = with_mean(per_combination)
    record = dict(
        schema='mm_incomplete.combination_metrics',
        version=SCHEMA_VERSION,
        stage=stage,
        combinations=[n for n in per_combination if n != MEAN],
        metrics=to_builtin(per_combination),
        modalities=dict(modalities) if modalities is not None else None)
    record.update(to_builtin(info))
    return record


def dump_record(record: Mapping[str, Any], path: str) -> str:
    """Write ``record`` as indented JSON to ``path`` (folders created)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(to_builtin(record), f, indent=2)
        f.write('\n')
    return path


def load_record(path: str) -> Dict[str, Any]:
    """Read and check a record written by :func:`dump_record`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not JSON or lacks ``metrics`` /
            ``combinations``; the message names the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'no combination-metrics file at {path!r}')
    try:
        with open(path) as f:
            record = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(record, dict) or \
            not isinstance(record.get('metrics'), dict) or \
            not isinstance(record.get('combinations'), list):
        raise ValueError(
            f'{path}: not a combination-metrics file (needs "combinations" '
            'and "metrics"; written by MultiCombinationValLoop / '
            'MultiCombinationTestLoop as combination_metrics_*.json)')
    missing = [c for c in record['combinations']
               if c not in record['metrics']]
    if missing:
        raise ValueError(f'{path}: "metrics" has no entry for the '
                         f'combinations {missing}')
    return record


def available_metrics(record: Mapping[str, Any]) -> List[str]:
    """Scalar metrics reported for every combination of a record."""
    rows = [record['metrics'][c] for c in record['combinations']]
    if not rows:
        return []
    keys = [k for k in rows[0]
            if all(_numeric(r.get(k)) is not None and
                   _numeric(r.get(k)).ndim == 0 for r in rows)]
    return keys


def metric_values(record: Mapping[str, Any], metric: str,
                  path: str = '<record>') -> Dict[str, float]:
    """``{combination: value, ..., 'mean': value}`` of one scalar metric.

    The mean is the record's own ``mean`` row where it has the metric,
    otherwise the mean over the record's combinations.

    Raises:
        KeyError: the metric is missing; the message names ``path`` and the
            metrics that are available.
    """
    if metric not in available_metrics(record):
        raise KeyError(f'{path}: no scalar metric {metric!r} for every '
                       f'combination; available: '
                       f'{available_metrics(record)}')
    out = {n: float(record['metrics'][n][metric])
           for n in record['combinations']}
    stored = _numeric(record['metrics'].get(MEAN, {}).get(metric))
    out[MEAN] = float(stored) if stored is not None and stored.ndim == 0 \
        else float(np.mean(list(out.values())))
    return out
