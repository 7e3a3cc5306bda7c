"""The demo: train on the synthetic RGB-D segmentation set, on the CPU, then
evaluate the test split under every modality combination.

    python tools/demo.py [--config CONFIG] [--work-dir DIR] [--max-iters N]

Prints the training progress, the per-combination table (rgb, depth,
rgb+depth and their mean) and writes ``<work-dir>/combinations.png``. The
synthetic set is generated into ``data/`` on first use.
"""
import argparse
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

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
    runner = Runner.from_cfg(cfg)
    runner.train()
    print('[demo] evaluating the test split under every combination',
          flush=True)
    runner.test()
    record = runner.test_loop.last_json

    import plot_combinations
    png = osp.join(args.work_dir, 'combinations.png')
    plot_combinations.main([record, '--out', png, '--metric', 'mIoU',
                            '--title', 'synthetic RGB-D, test split'])
    from mm_incomplete.evaluation.combination_metrics import (format_table,
                                                              load_record)
    print('\n[demo] test split, per modality combination:')
    print(format_table(load_record(record)['metrics']))
    print(f'[demo] metrics: {record}\n[demo] chart:   {png}\n'
          f'[demo] total time {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
