"""The README's results tables are the harness's output, unchanged.

Each ``docs/results/<name>.md`` written by ``tools/analysis/compare_seeds.py``
must appear verbatim in the document that reads it (README.md or a method's
README), and every cell of it must equal the mean ± std of the per-seed
values in the JSON written next to it ('-' where the method did not
evaluate that combination).
"""
import json
import os.path as osp
import re

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# table -> the document that shows it
TABLES = {
    'synthetic_seg': 'README.md',
    'synthetic_cls': 'README.md',
    'dimml_seg': 'configs/dimml/README.md',
    'dimml_cls': 'configs/dimml/README.md',
    'dimml_seg_competition': 'configs/dimml/README.md',
    'dimml_cls_competition': 'configs/dimml/README.md',
    'onestage_seg': 'configs/onestage/README.md',
    'onestage_cls': 'configs/onestage/README.md',
}


@pytest.mark.parametrize('name', sorted(TABLES))
def test_readme_holds_the_harness_table(name):
    with open(osp.join(ROOT, 'docs', 'results', name + '.md')) as f:
        table = f.read().strip()
    with open(osp.join(ROOT, TABLES[name])) as f:
        readme = f.read()
    assert table in readme, \
        f'{TABLES[name]} does not hold docs/results/{name}.md'


@pytest.mark.parametrize('name', sorted(TABLES))
def test_table_cells_equal_the_json(name):
    with open(osp.join(ROOT, 'docs', 'results', name + '.json')) as f:
        data = json.load(f)
    with open(osp.join(ROOT, 'docs', 'results', name + '.md')) as f:
        lines = [ln for ln in f if ln.startswith('| ')]
    header = [c.strip() for c in lines[0].strip('|\n').split('|')]
    rows = {}
    for ln in lines[2:]:  # after the header and its --- row
        cells = [c.strip() for c in ln.strip('|\n').split('|')]
        rows[cells[0]] = dict(zip(header[1:], cells[1:]))
    assert set(rows) == set(data['methods'])
    for label, res in data['methods'].items():
        for combo, cell in rows[label].items():
            if cell == '-':
                assert combo not in res['per_seed'], (label, combo)
                continue
            vals = res['per_seed'][combo]
            mean, std = re.fullmatch(r'([\d.]+) ± ([\d.]+)', cell).groups()
            assert float(mean) == pytest.approx(np.mean(vals), abs=0.005)
            assert float(std) == pytest.approx(np.std(vals, ddof=1),
                                               abs=0.005)
