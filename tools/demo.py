"""The demo: train on the synthetic RGB-D segmentation set, on the CPU, then
evaluate the test split under every modality combination.

    python tools/demo.py [--config CONFIG] [--work-dir DIR] [--max-iters N]

Prints the training progress, the per-combination table (rgb, depth,
rgb+depth and their mean) and writes ``<work-dir>/combinations.png``, with a
dotted line at the score of "chance": predicting the most frequent class
(the floor) everywhere, computed from the test labels. The synthetic set is
generated into ``data/`` on first use.
"""
import argparse
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mm_incomplete  # noqa: E402,F401
from mm_incomplete.utils.launch import load_config  # noqa: E402

DEFAULT_CONFIG = 'configs/dmrnet/synthetic_seg_cpu.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=osp.join(ROOT, DEFAULT_CONFIG),
                        help='segmentation config to train and test')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--max-iters', type=int,
                        help='override train_cfg.max_iters')
    return parser.parse_args(argv)


def majority_class_miou(dataset) -> float:
    """mIoU (%) of predicting the most frequent class everywhere.

    With every pixel labelled c*, the IoU of c* is its pixel share and every
    other class present in the labels scores 0 (mmseg's IoUMetric averages
    over the classes present in labels or predictions).

    Example (two images, 3 floor pixels out of 4, two classes present):
    IoU(floor) = 0.75, IoU(other) = 0 -> 37.5.
    """
    import cv2
    import numpy as np
    counts = None
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        label = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
        if label is None:
            raise FileNotFoundError(f'cannot read {info["seg_map_path"]}')
        label = label[label != dataset.ignore_index]
        c = np.bincount(label.ravel(), minlength=len(dataset.metainfo[
            'classes']))
        counts = c if counts is None else counts + c
    if counts is None:
        raise ValueError('the test split has no images')
    present = int((counts > 0).sum())
    return 100.0 * counts.max() / counts.sum() / present


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    cfg = load_config(args.config)
    cfg.work_dir = args.work_dir
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
        cfg.train_cfg.val_interval = args.max_iters
    print(f'[demo] training {osp.relpath(args.config, ROOT)} for '
          f'{cfg.train_cfg.max_iters} iterations on the CPU; progress is '
          'logged every few iterations', flush=True)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    runner.train()
    print('[demo] evaluating the test split under every combination',
          flush=True)
    runner.test()
    record = runner.test_loop.last_json

    import plot_combinations
    from mm_incomplete.evaluation.combination_metrics import (format_table,
                                                              load_record)
    chance = majority_class_miou(runner.test_dataloader.dataset)
    order, series = plot_combinations.collect([record], 'mIoU',
                                              [osp.basename(args.config)])
    png = osp.join(args.work_dir, 'combinations.png')
    plot_combinations.plot(
        order, series, 'mIoU', png, 'synthetic RGB-D, test split',
        reference=(chance, f'chance: floor everywhere ({chance:.1f})'))
    metrics = load_record(record)['metrics']
    print('\n[demo] test split, per modality combination:')
    print(format_table(metrics))
    print(f'[demo] chance (the most frequent class, floor, everywhere): '
          f'{chance:.2f} mIoU')
    print('[demo] test mIoU ' + ', '.join(
        f'{c} {m["mIoU"]:.2f}' for c, m in metrics.items()))
    print(f'[demo] metrics: {record}\n[demo] chart:   {png}\n'
          f'[demo] total time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
