import os.path as osp

import pytest

from mm_incomplete.datasets import MultiModalClsDataset


def _ann(tmp_path, text):
    path = tmp_path / 'ann.txt'
    path.write_text(text)
    return str(path)


def test_columns_and_subset_of_modalities(tmp_path):
    _ann(tmp_path, '# rgb depth ir label\n\nr.png d.png i.png 1\n')
    ds = MultiModalClsDataset(dict(rgb=3, ir=1), 'ann.txt',
                              ann_modalities=('rgb', 'depth', 'ir'),
                              data_root=str(tmp_path), classes=['a', 'b'],
                              check_files=False)
    info = ds.get_data_info(0)
    assert info['modality_paths'] == dict(
        rgb=osp.join(str(tmp_path), 'r.png'),
        ir=osp.join(str(tmp_path), 'i.png'))
    assert info['gt_label'] == 1 and len(ds) == 1


def test_errors_name_file_line_and_option(tmp_path):
    root = str(tmp_path)
    _ann(tmp_path, 'r.png d.png 1\nr.png 0\n')
    with pytest.raises(ValueError, match=r'ann.txt:2: expected 2 paths'):
        MultiModalClsDataset(dict(rgb=3, depth=1), 'ann.txt', data_root=root,
                             check_files=False)
    _ann(tmp_path, 'r.png d.png cat\n')
    with pytest.raises(ValueError, match='ann.txt:1: label'):
        MultiModalClsDataset(dict(rgb=3, depth=1), 'ann.txt', data_root=root,
                             check_files=False)
    _ann(tmp_path, 'r.png d.png 5\n')
    with pytest.raises(ValueError, match=r'outside 0..1'):
        MultiModalClsDataset(dict(rgb=3, depth=1), 'ann.txt', data_root=root,
                             classes=['a', 'b'], check_files=False)
    _ann(tmp_path, 'r.png d.png 1\n')
    with pytest.raises(FileNotFoundError, match='r.png'):
        MultiModalClsDataset(dict(rgb=3, depth=1), 'ann.txt', data_root=root)
    with pytest.raises(ValueError, match='ann_modalities'):
        MultiModalClsDataset(dict(rgb=3, depth=1), 'ann.txt', data_root=root,
                             ann_modalities=('rgb', ))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        MultiModalClsDataset(dict(rgb=3), 'missing.txt', data_root=root)
