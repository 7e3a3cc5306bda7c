"""docs/adding_a_method.md: every Python block runs, in order, in one
namespace (each block's asserts state what the page promises)."""
import os.path as osp
import re

import pytest

DOC = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
               'docs', 'adding_a_method.md')
SECTIONS = ['## 1. A loss on per-modality features', '## 2. State a method',
            '## 3. A decision rule for late fusion',
            '## 4. A new modality: infrared']


def _blocks():
    with open(DOC) as f:
        text = f.read()
    for title in SECTIONS:
        assert title in text, f'{DOC} lost its section {title!r}'
    return re.findall(r'```python\n(.*?)```', text, flags=re.S)


def test_walk_through_runs():
    from mmengine.registry import MODELS
    names = ['ModalityAlignmentLoss', 'FeatureNormTracker',
             'PriorWeightedDecision']
    blocks = _blocks()
    assert len(blocks) >= 7
    namespace = {'__name__': 'adding_a_method'}
    try:
        for i, code in enumerate(blocks):
            try:
                exec(compile(code, f'{DOC} block {i}', 'exec'), namespace)
            except Exception as e:  # name the block that broke
                pytest.fail(f'block {i} of {DOC} failed: {e!r}\n{code}')
    finally:
        for name in names:  # the page registers them; leave no trace
            MODELS.module_dict.pop(name, None)
    assert all(name in namespace for name in names)
