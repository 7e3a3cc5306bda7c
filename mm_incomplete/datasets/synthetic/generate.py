"""Write the synthetic RGB-D sets to disk in the layout of the real ones.

Shorthand: S image side, N samples per split.

Layout (shared with NYUDv2 / SUN RGB-D, see ``docs/datasets.md``)::

    data_root/
      rgb/{train,val,test}/000000.png     uint8 RGB
      depth/{train,val,test}/000000.png   uint16 millimetres, 0 = hole
      label/{train,val,test}/000000.png   uint8 class ids   (segmentation)
      {train,val,test}.txt                annotation files (classification):
                                          "rgb/... depth/... <label>"
      .synthetic.json                     marker: generator and parameters

Every sample is drawn from its own generator seeded by ``(seed, split,
index)``, so a set is a pure function of its parameters. Generation writes
into a private temporary folder and renames it to ``data_root`` at the end,
so concurrent processes (``tools/dist_train.sh``) never see a half-written
set and at most one rename wins.
"""
import json
import os
import os.path as osp
import shutil
import time
import uuid
from typing import Dict

import cv2
import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from .render import OBJECT_CLASSES, render_scene

MARKER = '.synthetic.json'
GENERATOR_VERSION = 1
SPLITS = ('train', 'val', 'test')
_SPLIT_ID = dict(train=0, val=1, test=2)


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), _SPLIT_ID[split], int(index)])


def _write_sample(root, split, name, rgb, depth, label=None):
    paths = {}
    for mod, arr in (('rgb', rgb[..., ::-1]),
                     ('depth', np.clip(np.rint(depth * 1000.0), 0,
                                       65535).astype(np.uint16)),
                     ('label', label)):
        if arr is None:
            continue
        rel = osp.join(mod, split, name + '.png')
        if not cv2.imwrite(osp.join(root, rel), np.ascontiguousarray(arr)):
            raise OSError(f'could not write {osp.join(root, rel)}')
        paths[mod] = rel
    return paths


def _seg_sample(seed, split, index, size, min_objects, max_objects):
    rng = _rng(seed, split, index)
    n = int(rng.integers(min_objects, max_objects + 1))
    kinds = [OBJECT_CLASSES[i] for i in rng.integers(len(OBJECT_CLASSES),
                                                     size=n)]
    margin = size * 0.1
    centres = [tuple(rng.uniform(margin, size - margin, 2)) for _ in kinds]
    # far objects first is not required: the z-buffer resolves occlusion
    return render_scene(rng, size, kinds, centres)


def _cls_sample(seed, split, index, size):
    rng = _rng(seed, split, index)
    label = int(rng.integers(len(OBJECT_CLASSES)))
    centre = tuple(size / 2 + rng.uniform(-size / 8, size / 8, 2))
    rgb, depth, _ = render_scene(rng, size, [OBJECT_CLASSES[label]],
                                 [centre])
    return rgb, depth, label


def write_seg_set(root: str, seed: int = 0, size: int = 64,
                  num_train: int = 400, num_val: int = 100,
                  num_test: int = 100, min_objects: int = 2,
                  max_objects: int = 5, progress: bool = False) -> None:
    """Write the segmentation set into ``root`` (which must exist)."""
    counts = dict(train=num_train, val=num_val, test=num_test)
    for split in SPLITS:
        for mod in ('rgb', 'depth', 'label'):
            os.makedirs(osp.join(root, mod, split), exist_ok=True)
        for i in tqdm(range(counts[split]), desc=f'synthetic seg {split}',
                      disable=not progress):
            rgb, depth, label = _seg_sample(seed, split, i, size,
                                            min_objects, max_objects)
            _write_sample(root, split, f'{i:06d}', rgb, depth, label)


def write_cls_set(root: str, seed: int = 0, size: int = 64,
                  num_train: int = 800, num_val: int = 200,
                  num_test: int = 200, progress: bool = False) -> None:
    """Write the classification set and its annotation files into ``root``."""
    counts = dict(train=num_train, val=num_val, test=num_test)
    for split in SPLITS:
        for mod in ('rgb', 'depth'):
            os.makedirs(osp.join(root, mod, split), exist_ok=True)
        lines = []
        for i in tqdm(range(counts[split]), desc=f'synthetic cls {split}',
                      disable=not progress):
            rgb, depth, label = _cls_sample(seed, split, i, size)
            paths = _write_sample(root, split, f'{i:06d}', rgb, depth)
            lines.append(f'{paths["rgb"]} {paths["depth"]} {label}\n')
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.writelines(lines)


_WRITERS = dict(seg=write_seg_set, cls=write_cls_set)


def ensure_synthetic(root: str, task: str, params: Dict,
                     progress: bool = False) -> bool:
    """Generate the ``task`` ('seg' | 'cls') set into ``root`` unless there.

    Returns True if this call generated it. A ``root`` that holds a set made
    with other parameters, or other files, raises instead of being touched.
    """
    if task not in _WRITERS:
        raise ValueError(f'unknown synthetic task {task!r}; use "seg" or '
                         '"cls"')
    spec = dict(task=task, version=GENERATOR_VERSION, params=params)
    if _check_existing(root, spec):
        return False
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    total = sum(v for k, v in params.items() if k.startswith('num_'))
    print_log(f'generating the synthetic {task} set ({total or "default"} '
              f'samples, generator v{GENERATOR_VERSION}) into '
              f'{osp.abspath(root)}; done once, later runs reuse it',
              logger='current')
    start = time.perf_counter()
    tmp = osp.join(parent, f'.{osp.basename(osp.abspath(root))}.tmp-'
                   f'{os.getpid()}-{uuid.uuid4().hex[:8]}')
    os.makedirs(tmp)
    try:
        _WRITERS[task](tmp, progress=progress, **params)
        with open(osp.join(tmp, MARKER), 'w') as f:
            json.dump(spec, f, indent=2, sort_keys=True)
        try:
            os.rename(tmp, root)  # atomic; fails if another process won
        except OSError:
            if not _check_existing(root, spec):
                raise
            return False
        print_log(f'synthetic {task} set written to {osp.abspath(root)} in '
                  f'{time.perf_counter() - start:.1f} s', logger='current')
        return True
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _check_existing(root: str, spec: Dict) -> bool:
    """True if ``root`` holds exactly this set; raise if it holds another."""
    if not osp.exists(root):
        return False
    marker = osp.join(root, MARKER)
    if not osp.isfile(marker):
        if osp.isdir(root) and not os.listdir(root):
            return False  # an empty folder is replaced by the rename
        raise FileExistsError(
            f'data_root {root} exists but is not a synthetic set (no '
            f'{MARKER}); remove it or choose another `data_root`')
    with open(marker) as f:
        found = json.load(f)
    if found != json.loads(json.dumps(spec)):
        raise FileExistsError(
            f'data_root {root} holds a synthetic set made with {found}, not '
            f'{spec}; remove it or choose another `data_root`')
    return True
