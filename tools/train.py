"""Train a segmentor or classifier (mmseg 1.x interface).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--channels-last]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The task (mmseg or mmpretrain) follows from the config's ``default_scope``.
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mm_incomplete  # noqa: E402,F401  (registers modules, checkpoint loading)
from mm_incomplete.utils.launch import (apply_amp,  # noqa: E402
                                        finish_launch, load_config,
                                        parse_launch_args, set_work_dir,
                                        setup_launcher)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the latest checkpoint in the work dir, or from the '
        'given checkpoint')
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision: bf16 where the GPU supports it, '
        'else fp16 with dynamic loss scaling')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='train in the channels_last memory format (config option '
        '`channels_last = True`)')
    return parse_launch_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    setup_launcher(cfg, args.launcher)
    set_work_dir(cfg, args.config, args.work_dir)

    if args.amp and not apply_amp(cfg):
        print_log('AMP is already enabled in the config.', 'current',
                  logging.WARNING)
    if args.channels_last:
        cfg.channels_last = True
    if cfg.get('channels_last', False) and \
            cfg.get('runner_type') != 'MultiModalRunner':
        raise ValueError(
            '`channels_last` is applied by MultiModalRunner, but the config '
            f"has runner_type={cfg.get('runner_type')!r}")

    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume: checkpoint file not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume

    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    runner.train()
    finish_launch()


if __name__ == '__main__':
    main()
