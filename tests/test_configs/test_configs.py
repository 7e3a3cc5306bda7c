"""Every config under configs/ loads and means what it meant.

``config_snapshot.json`` holds the fingerprint (``_config_fingerprint.py``)
of every config (first taken before the dataset bases were rewritten to
declare each pipeline once, re-taken after the wave-2 methods landed and
when the model parts stopped repeating the layout, which the task models
now hand them from the data preprocessor). A
config changed on purpose is re-fingerprinted deliberately:
``PYTHONPATH=.:tests/test_configs python tests/test_configs/_config_fingerprint.py
mm_incomplete/configs tests/test_configs/config_snapshot.json``. Each config must still resolve to the same fields, and the
CPU-size ones must build the same model (parameter names, shapes and, with
the same seed, the same initial values).
"""
import json
import os.path as osp

import pytest

from _config_fingerprint import config_files, fingerprint, is_small
from mm_incomplete.utils import config_path

ROOT = osp.dirname(config_path('baselines/README.md'))
ROOT = osp.dirname(ROOT)
with open(osp.join(osp.dirname(__file__), 'config_snapshot.json')) as f:
    SNAPSHOT = json.load(f)
CONFIGS = [c for c in config_files(ROOT)
           if not c.startswith(osp.join('_base_', 'models'))]

# fields added on purpose since the snapshot: {config: {key: value}}
ADDED = {}

# layouts changed on purpose since the snapshot: {config: {before: now}}
CHANGED_LAYOUTS = {}


def _replace(tree, mapping):
    if isinstance(tree, dict):
        return {k: _replace(v, mapping) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_replace(v, mapping) for v in tree]
    return mapping.get(tree, tree) if isinstance(tree, str) else tree


def test_every_config_is_covered():
    assert sorted(SNAPSHOT) == sorted(CONFIGS)


def _diff(a, b, path=''):
    """Paths where two JSON trees differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k, '<missing>'), b.get(k, '<missing>'),
                         f'{path}.{k}')
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in _diff(x, y, f'{path}[{i}]')]
    return [] if a == b else [f'{path}: {a!r} != {b!r}']


@pytest.mark.parametrize('rel', CONFIGS)
def test_config_means_what_it_meant(rel):
    now = fingerprint(osp.join(ROOT, rel), build=is_small(rel))
    now = json.loads(json.dumps(now))  # the snapshot's JSON types
    before = json.loads(json.dumps(SNAPSHOT[rel]))
    before = _replace(before, CHANGED_LAYOUTS.get(rel, {}))
    for key, value in ADDED.get(rel, {}).items():
        assert now['config'].pop(key) == value
    assert _diff(before, now) == []
