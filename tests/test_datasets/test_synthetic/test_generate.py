import filecmp
import multiprocessing as mp
import os
import os.path as osp

import pytest

from mm_incomplete.datasets.synthetic import MARKER, ensure_synthetic

SEG = dict(seed=0, size=32, num_train=3, num_val=2, num_test=2,
           min_objects=1, max_objects=3)
CLS = dict(seed=0, size=32, num_train=4, num_val=2, num_test=2)


def _same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    files = [f for f in cmp.common_files]
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    return (not mismatch and not errors and not cmp.left_only
            and not cmp.right_only
            and all(_same_tree(osp.join(a, d), osp.join(b, d))
                    for d in cmp.common_dirs))


def test_deterministic_and_complete(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    assert ensure_synthetic(a, 'seg', SEG)
    assert not ensure_synthetic(a, 'seg', SEG)  # second call: already there
    assert ensure_synthetic(b, 'seg', SEG)
    assert _same_tree(a, b)
    assert ensure_synthetic(c, 'seg', dict(SEG, seed=1))
    assert not _same_tree(a, c)
    for split, n in (('train', 3), ('val', 2), ('test', 2)):
        for mod in ('rgb', 'depth', 'label'):
            assert len(os.listdir(osp.join(a, mod, split))) == n
    assert osp.isfile(osp.join(a, MARKER))
    assert not [f for f in os.listdir(tmp_path) if '.tmp-' in f]


def test_cls_annotation_files(tmp_path):
    root = str(tmp_path / 'cls')
    ensure_synthetic(root, 'cls', CLS)
    lines = open(osp.join(root, 'train.txt')).read().splitlines()
    assert len(lines) == 4
    rgb, depth, label = lines[0].split()
    assert rgb == 'rgb/train/000000.png' and depth.startswith('depth/')
    assert 0 <= int(label) < 8


def test_refuses_foreign_or_different_sets(tmp_path):
    root = str(tmp_path / 's')
    ensure_synthetic(root, 'seg', SEG)
    with pytest.raises(FileExistsError, match='another `data_root`'):
        ensure_synthetic(root, 'seg', dict(SEG, seed=5))
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'x.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not a synthetic set'):
        ensure_synthetic(str(other), 'seg', SEG)
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert ensure_synthetic(str(empty), 'seg', SEG)
    with pytest.raises(ValueError, match='task'):
        ensure_synthetic(str(tmp_path / 'q'), 'det', SEG)


def _worker(root, queue):
    queue.put(ensure_synthetic(root, 'seg', SEG))


def test_concurrent_generation_is_safe(tmp_path):
    root = str(tmp_path / 'race')
    ctx = mp.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(root, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    results = [queue.get(timeout=5) for _ in procs]
    assert sum(results) >= 1  # at least one generated, none failed
    assert len(os.listdir(osp.join(root, 'rgb', 'train'))) == 3
    assert not [f for f in os.listdir(tmp_path) if '.tmp-' in f]


def test_generation_is_logged_with_path_time_and_progress(tmp_path, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('synthetic_log_test')  # the current logger
    root = str(tmp_path / 'rel' / 'seg')
    assert ensure_synthetic(root, 'seg', SEG, progress=True)
    out = capsys.readouterr()
    text = out.out + out.err
    assert 'generating the synthetic seg set (7 samples' in text
    assert f'into {osp.abspath(root)}' in text
    assert f'synthetic seg set written to {osp.abspath(root)} in ' in text
    assert 'synthetic seg train: 100%' in out.err  # tqdm progress bar
    assert not ensure_synthetic(root, 'seg', SEG)  # reused: nothing logged
    assert 'generating' not in capsys.readouterr().out
