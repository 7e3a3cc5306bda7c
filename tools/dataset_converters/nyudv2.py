"""Convert the official NYU Depth v2 labelled set to our on-disk layout.

Shorthand: N = 1449 frames of H x W = 480 x 640; 894 raw classes.

Inputs (public downloads):
  nyu_depth_v2_labeled.mat  MATLAB v7.3 (HDF5): ``images``, ``depths``,
                            ``rawDepths``, ``labels`` (894 classes, 0 =
                            unlabeled). HDF5 stores MATLAB arrays transposed:
                            ``images`` is (N, 3, W, H), ``depths`` (N, W, H).
  classMapping40.mat        Gupta et al.: ``mapClass`` (1 x 894), raw -> 1..40.
  splits.mat                ``trainNdxs`` (795) / ``testNdxs`` (654), 1-based.

Output (see NYUDv2Dataset)::

  OUT/rgb/{train,test}/000001.png      uint8 RGB
  OUT/depth/{train,test}/000001.png    uint16 mm (filled ``depths``, or raw
                                       ``rawDepths`` with 0 = hole)
  OUT/label40/{train,test}/000001.png  uint8 0 = unlabeled, 1..40
  OUT/label13/{train,test}/000001.png  uint8 0 = unlabeled, 1..13
  OUT/class_weights_label{40,13}.json  median-frequency class weights of
                                       the train split (class_weights.py)

Example:
  python tools/dataset_converters/nyudv2.py nyu_depth_v2_labeled.mat \
      classMapping40.mat splits.mat -o data/nyudv2
"""
import argparse
import os
import os.path as osp
import shutil
import sys

import cv2
import h5py
import numpy as np
import scipy.io
from tqdm import tqdm

# NYU-40 id (0 = unlabeled) -> NYU-13 id; kept here so the converter runs
# without importing the package (it equals mm_incomplete's NYU40_TO_13).
NYU40_TO_13 = np.array(
    [0, 12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7, 7, 5,
     7, 3, 2, 6, 11, 7, 7, 7, 7, 7, 7, 6, 7, 7, 7, 7, 7, 7, 6, 7], np.uint8)


def _require(mat: dict, key: str, path: str) -> np.ndarray:
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise KeyError(f'{path} has no variable {key!r}; found {found}')
    return np.asarray(mat[key])


OUT_DIRS = ('rgb', 'depth', 'label40', 'label13')


def _loadmat(path: str) -> dict:
    """``scipy.io.loadmat`` whose errors name the file."""
    try:
        return scipy.io.loadmat(path)
    except Exception as err:
        raise ValueError(f'cannot read {path}: {type(err).__name__}: '
                         f'{err}') from err


def load_mapping(path: str) -> np.ndarray:
    """(895,) uint8 lookup: raw class id (0 = unlabeled) -> NYU-40 id."""
    map_class = _require(_loadmat(path), 'mapClass', path).ravel()
    if map_class.min() < 0 or map_class.max() > 40:
        raise ValueError(f'{path}: `mapClass` values must lie in 0..40, got '
                         f'{map_class.min()}..{map_class.max()}')
    return np.concatenate([[0], map_class]).astype(np.uint8)


def load_splits(path: str):
    """1-based train / test indices from splits.mat: each non-empty and
    without repeats, and no frame in both (a train/test leak)."""
    mat = _loadmat(path)
    splits = dict(trainNdxs=_require(mat, 'trainNdxs', path).ravel(),
                  testNdxs=_require(mat, 'testNdxs', path).ravel())
    for key, idx in splits.items():
        if idx.size == 0:
            raise ValueError(f'{path}: `{key}` is empty')
        values, counts = np.unique(idx, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f'{path}: `{key}` repeats frames '
                             f'{values[counts > 1][:5].tolist()}')
    both = np.intersect1d(splits['trainNdxs'], splits['testNdxs'])
    if both.size:
        raise ValueError(f'{path}: {both.size} frame(s) are in both '
                         f'`trainNdxs` and `testNdxs` (a train/test leak), '
                         f'e.g. {both[:5].tolist()}')
    return (splits['trainNdxs'].astype(int), splits['testNdxs'].astype(int))


def prepare_output(out: str, overwrite: bool) -> None:
    """Refuse an output folder holding converted frames, or clear them
    (``overwrite``): frames of an earlier conversion would stay behind."""
    used = [osp.join(out, d) for d in OUT_DIRS
            if osp.isdir(osp.join(out, d)) and os.listdir(osp.join(out, d))]
    if used and not overwrite:
        raise FileExistsError(
            f'output folder {out} already holds converted frames '
            f'({", ".join(used)}); choose an empty folder or pass '
            '--overwrite to delete them first')
    for folder in used:
        shutil.rmtree(folder)


def convert(labeled_mat: str, mapping_mat: str, splits_mat: str, out: str,
            raw_depth: bool = False, progress: bool = True,
            overwrite: bool = False) -> int:
    """Write the layout; returns the number of frames written."""
    for path in (labeled_mat, mapping_mat, splits_mat):
        if not osp.isfile(path):
            raise FileNotFoundError(f'input file not found: {path}')
    to40 = load_mapping(mapping_mat)
    train, test = load_splits(splits_mat)
    depth_key = 'rawDepths' if raw_depth else 'depths'
    try:
        mat = h5py.File(labeled_mat, 'r')
    except Exception as err:
        raise ValueError(f'cannot read {labeled_mat}: {type(err).__name__}: '
                         f'{err}') from err
    with mat as f:
        for key in ('images', depth_key, 'labels'):
            if key not in f:
                raise KeyError(f'{labeled_mat} has no dataset {key!r}; '
                               f'found {sorted(f.keys())}')
        images, depths, labels = f['images'], f[depth_key], f['labels']
        n = images.shape[0]
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f'{labeled_mat}: `images` has shape '
                             f'{images.shape}; expected (N, 3, W, H)')
        if depths.shape != (n, ) + images.shape[2:] or \
                labels.shape != depths.shape:
            raise ValueError(
                f'{labeled_mat}: shapes disagree: images {images.shape}, '
                f'{depth_key} {depths.shape}, labels {labels.shape}')
        bad = [i for i in np.concatenate([train, test]) if not 1 <= i <= n]
        if bad:
            raise ValueError(f'{splits_mat}: indices {bad[:5]} are outside '
                             f'1..{n} (frames in {labeled_mat})')
        jobs = [('train', i) for i in train] + [('test', i) for i in test]
        prepare_output(out, overwrite)
        for split in ('train', 'test'):
            for d in OUT_DIRS:
                os.makedirs(osp.join(out, d, split), exist_ok=True)
        for split, idx in tqdm(jobs, desc='NYUDv2', disable=not progress):
            i = idx - 1
            rgb = np.transpose(images[i], (2, 1, 0))  # (3, W, H) -> (H, W, 3)
            depth = np.asarray(depths[i]).T
            raw = np.asarray(labels[i]).T.astype(np.int64)
            if raw.max() >= len(to40):
                raise ValueError(f'{labeled_mat}: frame {idx} has class '
                                 f'{raw.max()}, beyond the {len(to40) - 1} '
                                 f'classes of {mapping_mat}')
            depth_mm = np.clip(np.rint(np.nan_to_num(depth) * 1000), 0,
                               65535).astype(np.uint16)
            label40 = to40[raw]
            name = f'{idx:06d}.png'
            for d, arr in (('rgb', np.ascontiguousarray(rgb[..., ::-1])),
                           ('depth', depth_mm), ('label40', label40),
                           ('label13', NYU40_TO_13[label40])):
                path = osp.join(out, d, split, name)
                if not cv2.imwrite(path, arr):
                    raise OSError(f'could not write {path}')
    return len(jobs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert NYU Depth v2 (labelled .mat) to mm_incomplete\'s '
        'layout: rgb/, depth/ (uint16 mm), label40/, label13/.')
    parser.add_argument('labeled_mat', help='nyu_depth_v2_labeled.mat')
    parser.add_argument('mapping_mat', help='classMapping40.mat')
    parser.add_argument('splits_mat', help='splits.mat')
    parser.add_argument('-o', '--out', default='data/nyudv2',
                        help='output data_root (default: data/nyudv2)')
    parser.add_argument('--raw-depth', action='store_true',
                        help='write the raw sensor depth (0 = hole) instead '
                        'of the filled `depths`')
    parser.add_argument('--overwrite', action='store_true',
                        help='delete frames of an earlier conversion in the '
                        'output folder first (without it, a non-empty output '
                        'is an error)')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def write_class_weights(out: str) -> None:
    """Median-frequency weights of the train split of both label sets,
    next to the data (the paper configs' task loss reads them)."""
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    try:
        import class_weights
    finally:
        sys.path.pop(0)
    for k in (40, 13):
        record = class_weights.compute(osp.join(out, f'label{k}', 'train'), k)
        path = osp.join(out, f'class_weights_label{k}.json')
        class_weights.write(record, path)
        print(f'wrote {path}')


def main(argv=None):
    args = parse_args(argv)
    n = convert(args.labeled_mat, args.mapping_mat, args.splits_mat,
                args.out, raw_depth=args.raw_depth,
                progress=not args.no_progress, overwrite=args.overwrite)
    print(f'wrote {n} frames to {args.out}')
    write_class_weights(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
