"""Flat keys, means, table and JSON records of per-combination metrics."""
import json

import numpy as np
import pytest
import torch

from mm_incomplete.evaluation import (available_metrics, dump_record,
                                      flatten_metrics, format_table,
                                      load_record, make_record,
                                      mean_over_combinations, metric_values,
                                      with_mean)

PER = {
    'rgb+depth': {'aAcc': 80.0, 'mIoU': np.float32(45.5), 'IoU': [1.0, 3.0]},
    'rgb': {'aAcc': 70.0, 'mIoU': np.float64(40.0), 'IoU': [2.0, 5.0]},
    'depth': {'aAcc': 60.0, 'mIoU': torch.tensor(30.25), 'IoU': [3.0, 4.0]},
}


def test_mean_scalars_and_lists():
    mean = mean_over_combinations(PER)
    assert mean['aAcc'] == pytest.approx(70.0)
    assert mean['mIoU'] == pytest.approx((45.5 + 40.0 + 30.25) / 3)
    assert mean['IoU'] == pytest.approx([2.0, 4.0])
    assert isinstance(mean['mIoU'], float)


def test_mean_skips_ragged_and_text():
    mean = mean_over_combinations({'rgb': {'a': [1, 2], 'b': 'x', 'c': 1},
                                   'depth': {'a': [1], 'b': 'y', 'c': 3}})
    assert mean == {'c': 2.0}


def test_flatten_and_reserved_mean():
    flat = flatten_metrics(with_mean({'rgb': {'accuracy/top1': 50.0},
                                      'depth': {'accuracy/top1': 30.0}}))
    assert flat == {'rgb/accuracy/top1': 50.0, 'depth/accuracy/top1': 30.0,
                    'mean/accuracy/top1': 40.0}
    with pytest.raises(ValueError, match='reserved'):
        with_mean({'mean': {'x': 1}})


def test_table_rows_and_values():
    table = format_table(with_mean(PER))
    lines = [line for line in table.splitlines() if line.startswith('|')]
    assert [c.strip() for c in lines[0].split('|')[1:-1]] == \
        ['combination', 'aAcc', 'mIoU']  # the list metric is no column
    cells = {line.split('|')[1].strip(): line.split('|')[3].strip()
             for line in lines[1:]}
    assert cells == {'rgb+depth': '45.50', 'rgb': '40.00', 'depth': '30.25',
                     'mean': '38.58'}


def test_record_round_trip(tmp_path):
    record = make_record(PER, 'val', modalities={'rgb': 3, 'depth': 1},
                         model='M', iter=np.int64(7))
    path = dump_record(record, str(tmp_path / 'sub' / 'r.json'))
    with open(path) as f:
        raw = json.load(f)
    assert raw['combinations'] == ['rgb+depth', 'rgb', 'depth']
    assert raw['iter'] == 7 and raw['model'] == 'M' and raw['stage'] == 'val'
    assert raw['metrics']['depth']['mIoU'] == 30.25
    loaded = load_record(path)
    assert available_metrics(loaded) == ['aAcc', 'mIoU']
    values = metric_values(loaded, 'aAcc', path)
    assert values == {'rgb+depth': 80.0, 'rgb': 70.0, 'depth': 60.0,
                      'mean': 70.0}


def test_load_errors_name_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_record(str(tmp_path / 'nope.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"metrics": 1}')
    with pytest.raises(ValueError, match='bad.json.*combinations'):
        load_record(str(bad))
    broken = tmp_path / 'broken.json'
    broken.write_text('{')
    with pytest.raises(ValueError, match='broken.json.*not valid JSON'):
        load_record(str(broken))
    rec = make_record(PER, 'test')
    with pytest.raises(KeyError, match=r"r.json.*'mDice'.*aAcc"):
        metric_values(rec, 'mDice', 'r.json')
