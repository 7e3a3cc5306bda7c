"""Convert SUN RGB-D (37-class segmentation release) to our on-disk layout.

Shorthand: N = 10335 frames (5285 train / 5050 test); H x W varies with the
sensor (Kinect v1/v2, RealSense, Xtion); K = 37 classes.

Inputs (public downloads, http://rgbd.cs.princeton.edu):
  SUNRGBD/                 SUNRGBD.zip extracted: one folder per frame
                           (``kv1/NYUdata/NYU0001/``, ...) holding
                           ``image/*.jpg``, ``depth/*.png`` (raw) and
                           ``depth_bfx/*.png`` (filled).
  SUNRGBDtoolbox/          SUNRGBDtoolbox.zip extracted:
    Metadata/SUNRGBDMeta.mat       MATLAB v5 struct array ``SUNRGBDMeta``
                                   (1 x N); ``rgbpath`` / ``depthpath`` are
                                   absolute paths on the authors' machine,
                                   ``/n/fs/sun3d/data/SUNRGBD/<frame>/image/
                                   <x>.jpg`` and ``.../depth/<y>.png``.
    Metadata/SUNRGBD2Dseg.mat      MATLAB v7.3 (HDF5): group
                                   ``SUNRGBD2Dseg``, dataset ``seglabel`` of N
                                   object references, frame i's (W, H) label
                                   map (transposed, like every v7.3 array)
                                   with ids 0 = unlabeled, 1..37 indexing
                                   ``seg37list``; same order as SUNRGBDMeta.
    traintestSUNRGBD/allsplit.mat  cell arrays ``alltrain`` (5285) and
                                   ``alltest`` (5050) of frame folders
                                   (``/n/fs/sun3d/data/SUNRGBD/<frame>``).

Depth units: the toolbox's ``read3dPoints.m`` decodes a depth PNG with
``bitor(bitshift(D, -3), bitshift(D, 16 - 3)) / 1000`` (metres), i.e. the
stored uint16 is the depth in millimetres rotated left by 3 bits,
``D = (d << 3 | d >> 13) & 0xFFFF``. We undo the rotation and write plain
millimetres (0 = no measurement stays 0). We do not clamp far values
(``read3dPoints`` clamps to 8 or 10 m, depending on the toolbox version,
only when it builds point clouds).

Output (see SUNRGBDDataset)::

  OUT/rgb/{train,test}/000001.jpg      uint8 RGB (the source JPEG, copied)
  OUT/depth/{train,test}/000001.png    uint16 mm (``depth_bfx``, or raw
                                       ``depth`` with 0 = hole)
  OUT/label37/{train,test}/000001.png  uint8 0 = unlabeled, 1..37
  OUT/class_weights_label37.json       median-frequency class weights of
                                       the train split (class_weights.py)

Frame names are the 1-based indices in SUNRGBDMeta.mat / SUNRGBD2Dseg.mat.

Example:
  python tools/dataset_converters/sunrgbd.py SUNRGBD SUNRGBDtoolbox \
      -o data/sunrgbd
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

NUM_CLASSES = 37
META_MAT = osp.join('Metadata', 'SUNRGBDMeta.mat')
SEG_MAT = osp.join('Metadata', 'SUNRGBD2Dseg.mat')
SPLIT_MAT = osp.join('traintestSUNRGBD', 'allsplit.mat')
# Every path in the toolbox's .mat files sits under this folder on the
# authors' machine; what follows it is the path inside SUNRGBD.zip.
ROOT_MARK = '/SUNRGBD/'


def decode_depth(stored: np.ndarray) -> np.ndarray:
    """Undo SUN RGB-D's 3-bit rotation: (H, W) uint16 -> (H, W) uint16 mm."""
    v = stored.astype(np.uint32)
    return ((v >> 3) | ((v << 13) & 0xFFFF)).astype(np.uint16)


def relative_frame_dir(path: str, where: str) -> str:
    """``/n/fs/sun3d/data/SUNRGBD/kv1/x/NYU0001/`` -> ``kv1/x/NYU0001``."""
    at = path.find(ROOT_MARK)
    if at < 0:
        raise ValueError(f'{where}: path {path!r} has no {ROOT_MARK!r} '
                         f'part, so it cannot be located inside SUNRGBD/')
    return path[at + len(ROOT_MARK):].strip('/')


def _loadmat(path: str) -> dict:
    try:
        return scipy.io.loadmat(path, squeeze_me=True,
                                struct_as_record=False)
    except NotImplementedError as e:  # v7.3 files are HDF5
        raise ValueError(f'{path}: expected a MATLAB v5 .mat file readable '
                         f'by scipy ({e})') from e


def _variable(mat: dict, key: str, path: str):
    if key not in mat:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise KeyError(f'{path} has no variable {key!r}; found {found}')
    return mat[key]


def load_meta(path: str):
    """(rgbpath, depthpath) of each frame of SUNRGBDMeta.mat, in order."""
    meta = np.atleast_1d(_variable(_loadmat(path), 'SUNRGBDMeta', path))
    frames = []
    for i, m in enumerate(meta):
        for field in ('rgbpath', 'depthpath'):
            if not hasattr(m, field):
                raise KeyError(f'{path}: SUNRGBDMeta({i + 1}) has no field '
                               f'{field!r}')
        frames.append((str(m.rgbpath), str(m.depthpath)))
    return frames


def load_split(path: str):
    """Frame folders (relative to SUNRGBD/) of ``alltrain``/``alltest``."""
    mat = _loadmat(path)
    out = []
    for key in ('alltrain', 'alltest'):
        entries = np.atleast_1d(_variable(mat, key, path))
        out.append({
            relative_frame_dir(str(e), f'{path} `{key}`')
            for e in entries
        })
    both = out[0] & out[1]
    if both:
        raise ValueError(f'{path}: {len(both)} frames are in both '
                         f'`alltrain` and `alltest`, e.g. {sorted(both)[0]}')
    return out[0], out[1]


def _imread(path: str, flags: int) -> np.ndarray:
    if not osp.isfile(path):
        raise FileNotFoundError(f'file not found: {path}')
    arr = cv2.imread(path, flags)
    if arr is None:
        raise ValueError(f'could not decode image {path}')
    return arr


def _imwrite(path: str, arr: np.ndarray):
    if not cv2.imwrite(path, arr):
        raise OSError(f'could not write {path}')


def convert(sunrgbd_dir: str, toolbox_dir: str, out: str,
            raw_depth: bool = False, progress: bool = True) -> dict:
    """Write the layout; returns the number of frames per split."""
    if not osp.isdir(sunrgbd_dir):
        raise FileNotFoundError(f'SUNRGBD folder not found: {sunrgbd_dir}')
    meta_mat, seg_mat, split_mat = (
        osp.join(toolbox_dir, p) for p in (META_MAT, SEG_MAT, SPLIT_MAT))
    for path in (meta_mat, seg_mat, split_mat):
        if not osp.isfile(path):
            raise FileNotFoundError(f'input file not found: {path}')
    frames = load_meta(meta_mat)
    train, test = load_split(split_mat)
    depth_dir = 'depth' if raw_depth else 'depth_bfx'

    jobs = []  # (index from 1, split, frame folder, depth file name)
    for idx, (rgbpath, depthpath) in enumerate(frames, 1):
        where = f'{meta_mat} SUNRGBDMeta({idx}).rgbpath'
        frame = relative_frame_dir(osp.dirname(osp.dirname(rgbpath)), where)
        if frame in train:
            split = 'train'
        elif frame in test:
            split = 'test'
        else:
            raise ValueError(f'frame {idx} ({frame}) of {meta_mat} is in '
                             f'neither `alltrain` nor `alltest` of '
                             f'{split_mat}')
        jobs.append((idx, split, frame, rgbpath, osp.basename(depthpath)))

    for split in ('train', 'test'):
        for d in ('rgb', 'depth', 'label37'):
            os.makedirs(osp.join(out, d, split), exist_ok=True)
    counts = dict(train=0, test=0)
    with h5py.File(seg_mat, 'r') as f:
        if 'SUNRGBD2Dseg' not in f or 'seglabel' not in f['SUNRGBD2Dseg']:
            raise KeyError(f'{seg_mat} has no dataset '
                           f'`SUNRGBD2Dseg/seglabel`; found {sorted(f)}')
        refs = np.asarray(f['SUNRGBD2Dseg']['seglabel']).ravel()
        if len(refs) != len(frames):
            raise ValueError(f'{seg_mat} `SUNRGBD2Dseg/seglabel` has '
                             f'{len(refs)} frames but {meta_mat} has '
                             f'{len(frames)}')
        if refs.dtype != h5py.ref_dtype:
            raise ValueError(f'{seg_mat} `SUNRGBD2Dseg/seglabel` must hold '
                             f'object references (a MATLAB cell per '
                             f'frame), got dtype {refs.dtype}')
        for idx, split, frame, rgbpath, depth_name in tqdm(
                jobs, desc='SUN RGB-D', disable=not progress):
            src = osp.join(sunrgbd_dir, frame)
            rgb_src = osp.join(src, 'image', osp.basename(rgbpath))
            depth_src = osp.join(src, depth_dir, depth_name)
            rgb = _imread(rgb_src, cv2.IMREAD_COLOR)
            stored = _imread(depth_src, cv2.IMREAD_UNCHANGED)
            if stored.dtype != np.uint16 or stored.ndim != 2:
                raise ValueError(f'{depth_src}: expected a 1-channel uint16 '
                                 f'PNG, got {stored.dtype} of shape '
                                 f'{stored.shape}')
            label = np.asarray(f[refs[idx - 1]]).T
            if label.shape != rgb.shape[:2] or \
                    stored.shape != rgb.shape[:2]:
                raise ValueError(
                    f'frame {idx}: sizes disagree: {rgb_src} '
                    f'{rgb.shape[:2]}, {depth_src} {stored.shape}, '
                    f'{seg_mat} seglabel({idx}) {label.shape}')
            if label.size and (label.min() < 0 or label.max() > NUM_CLASSES
                               or not np.all(label == np.round(label))):
                raise ValueError(f'{seg_mat} seglabel({idx}): ids must be '
                                 f'integers in 0..{NUM_CLASSES}, got '
                                 f'{label.min()}..{label.max()}')
            name = f'{idx:06d}'
            rgb_dst = osp.join(out, 'rgb', split, name + '.jpg')
            if osp.splitext(rgb_src)[1].lower() in ('.jpg', '.jpeg'):
                shutil.copyfile(rgb_src, rgb_dst)
            else:
                _imwrite(rgb_dst, rgb)
            _imwrite(osp.join(out, 'depth', split, name + '.png'),
                     decode_depth(stored))
            _imwrite(osp.join(out, 'label37', split, name + '.png'),
                     label.astype(np.uint8))
            counts[split] += 1
    return counts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert SUN RGB-D (37-class release, SUNRGBDtoolbox) '
        'to mm_incomplete\'s layout: rgb/, depth/ (uint16 mm), label37/.')
    parser.add_argument('sunrgbd_dir',
                        help='SUNRGBD/ from SUNRGBD.zip (holds kv1/, kv2/, '
                        'realsense/, xtion/)')
    parser.add_argument('toolbox_dir',
                        help='SUNRGBDtoolbox/ (holds Metadata/ and '
                        'traintestSUNRGBD/)')
    parser.add_argument('-o', '--out', default='data/sunrgbd',
                        help='output data_root (default: data/sunrgbd)')
    parser.add_argument('--raw-depth', action='store_true',
                        help='write the raw sensor depth (depth/, 0 = hole) '
                        'instead of the filled depth_bfx/')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def write_class_weights(out: str) -> None:
    """Median-frequency weights of the train split's 37 classes, next to
    the data (the paper configs' task loss reads them)."""
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    try:
        import class_weights
    finally:
        sys.path.pop(0)
    record = class_weights.compute(osp.join(out, 'label37', 'train'), 37)
    path = osp.join(out, 'class_weights_label37.json')
    class_weights.write(record, path)
    print(f'wrote {path}')


def main(argv=None):
    args = parse_args(argv)
    counts = convert(args.sunrgbd_dir, args.toolbox_dir, args.out,
                     raw_depth=args.raw_depth,
                     progress=not args.no_progress)
    print(f'wrote {counts["train"]} train and {counts["test"]} test frames '
          f'to {args.out}')
    write_class_weights(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
