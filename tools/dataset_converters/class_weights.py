"""Median-frequency class weights of a segmentation training split.

Shorthand: K classes, N label maps.

ESANet's recipe (used by the DMRNet and MMANet NYUDv2 / SUN RGB-D code):
over the training split, with p_c the pixels of class c and P_c the pixels
of the images in which c occurs at all,

    freq_c = p_c / P_c,      w_c = median_c(freq_c) / freq_c

(void pixels excluded). The weights go next to the data as JSON; the paper
configs load them with ``FileWeightedCrossEntropyLoss``. Classes absent from
the split have no frequency: they get weight 0, are listed in the file and
reported (their loss can never be positive on this split anyway).

Label maps are the converters' uint8 PNGs with 0 = void and 1..K the
classes (``--void 0``, NYUDv2 ``label40``/``label13``, SUN RGB-D
``label37``), or 0..K-1 with 255 void (``--void 255``).

Example::

    python tools/dataset_converters/class_weights.py data/nyudv2/label40/train \\
        --num-classes 40 -o data/nyudv2/class_weights_label40.json
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, Iterable, Optional, Sequence

import cv2
import numpy as np

METHOD = 'median_frequency'


def class_pixel_counts(labels: Iterable[np.ndarray], num_classes: int,
                       void: int = 0) -> Dict[str, np.ndarray]:
    """p_c and P_c (see the module docstring) over label maps.

    Args:
        labels: (H, W) integer maps.
        num_classes (int): K.
        void (int): 0 (ids 1..K are the classes) or 255 (ids 0..K-1).

    Returns:
        dict: ``pixels`` (K,) p_c, ``image_pixels`` (K,) P_c, ``images``
        (the number of maps).
    """
    if void not in (0, 255):
        raise ValueError(f'void must be 0 or 255, got {void}')
    offset = 1 if void == 0 else 0
    pixels = np.zeros(num_classes, np.float64)
    image_pixels = np.zeros(num_classes, np.float64)
    n = 0
    for label in labels:
        ids = label.astype(np.int64).ravel()
        valid = ids != void
        cls = ids[valid] - offset
        if cls.size and (cls.min() < 0 or cls.max() >= num_classes):
            raise ValueError(
                f'label ids {int(cls.min()) + offset}..{int(cls.max()) + offset}'
                f' do not fit {num_classes} classes with void={void}')
        counts = np.bincount(cls, minlength=num_classes)
        pixels += counts
        image_pixels += (counts > 0) * label.size
        n += 1
    if n == 0:
        raise ValueError('no label maps')
    return dict(pixels=pixels, image_pixels=image_pixels, images=n)


def median_frequency_weights(pixels: np.ndarray, image_pixels: np.ndarray
                             ) -> np.ndarray:
    """w_c = median(freq) / freq_c; 0 for classes with no pixels."""
    present = pixels > 0
    if not present.any():
        raise ValueError('no labelled pixel of any class')
    freq = pixels[present] / image_pixels[present]
    weights = np.zeros_like(pixels)
    weights[present] = np.median(freq) / freq
    return weights


def read_labels(paths: Sequence[str]) -> Iterable[np.ndarray]:
    for path in paths:
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if label is None or label.ndim != 2:
            raise ValueError(f'{path}: not a single-channel label image')
        yield label


def compute(label_dir: str, num_classes: int, void: int = 0,
            suffix: str = '.png') -> dict:
    """The JSON record of the weights of every ``*suffix`` map in
    ``label_dir``."""
    paths = sorted(glob.glob(osp.join(label_dir, f'*{suffix}')))
    if not paths:
        raise FileNotFoundError(f'no *{suffix} label maps in {label_dir}')
    counts = class_pixel_counts(read_labels(paths), num_classes, void)
    weights = median_frequency_weights(counts['pixels'],
                                       counts['image_pixels'])
    absent = [int(c) for c in np.flatnonzero(counts['pixels'] == 0)]
    return dict(method=METHOD, num_classes=num_classes,
                label_dir=osp.abspath(label_dir), images=counts['images'],
                void=void, absent_classes=absent,
                pixels=counts['pixels'].astype(int).tolist(),
                weights=weights.tolist())


def write(record: dict, out: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(record, f, indent=1)


def parse_args(argv: Optional[Sequence[str]] = None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('label_dir', help='the training split\'s label maps')
    p.add_argument('--num-classes', type=int, required=True)
    p.add_argument('--void', type=int, default=0, choices=[0, 255])
    p.add_argument('-o', '--out', required=True, help='JSON file to write')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    record = compute(args.label_dir, args.num_classes, args.void)
    write(record, args.out)
    if record['absent_classes']:
        print(f'warning: classes {record["absent_classes"]} have no pixel in '
              f'{args.label_dir}; their weight is 0', file=sys.stderr)
    print(f'wrote {args.out} ({record["images"]} label maps)')
    return record


if __name__ == '__main__':
    main()
