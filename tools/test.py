"""Test a segmentor or classifier under every modality combination.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR [--interval N]] [--tta]
        [--modalities rgb,depth,rgb+depth] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

``--modalities`` picks the combinations to evaluate (default: the config's,
usually all); names join modalities with ``+``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mm_incomplete  # noqa: E402,F401
from mm_incomplete.utils.launch import (finish_launch,  # noqa: E402
                                        load_config, parse_launch_args,
                                        set_work_dir, setup_launcher)
from mm_incomplete.visualization import add_show_dir_hook  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a model under modality combinations')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dir (segmentation: prediction PNGs in DIR/<combination>/) or '
        '.pkl file (classification: FILE_<combination>.pkl) to save the '
        'predictions of every combination to')
    parser.add_argument(
        '--show-dir',
        help='dir to save a panel per sample to: each modality | ground '
        'truth | prediction of each combination')
    parser.add_argument(
        '--interval', type=int, default=1,
        help='with --show-dir, draw every INTERVAL-th sample')
    parser.add_argument(
        '--modalities',
        help='combinations to evaluate, e.g. "rgb", "rgb,depth,rgb+depth" '
        'or "all"')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    return parse_launch_args(parser, argv)


def _is_segmentation(cfg) -> bool:
    return cfg.get('default_scope', 'mmseg') == 'mmseg'


def enable_show_dir(cfg, show_dir: str, interval: int = 1) -> None:
    """A panel per sample: modalities | GT | prediction per combination."""
    add_show_dir_hook(cfg, show_dir, interval)


def save_predictions(cfg, out: str) -> None:
    """Seg: the metric writes prediction PNGs to ``out``; cls: dump a pkl."""
    if _is_segmentation(cfg):
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True
    else:
        if not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out for classification must be a .pkl file, '
                             f'got {out}')
        dump = dict(type='DumpResults', out_file_path=out)
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = (list(evaluators) if isinstance(
            evaluators, (list, tuple)) else [evaluators]) + [dump]


def set_combinations(cfg, modalities: str) -> None:
    """--modalities: the loop's list, or the one combination of a plain loop."""
    if not modalities.replace(',', ' ').strip():
        raise ValueError(f'--modalities {modalities!r} names no combination; '
                         'give e.g. "rgb,depth,rgb+depth" or "all"')
    loop = cfg.test_cfg.get('type', 'TestLoop')
    if loop.startswith('MultiCombination'):
        cfg.test_cfg['combinations'] = modalities
    elif ',' in modalities or ' ' in modalities or modalities == 'all':
        raise ValueError(f'--modalities {modalities!r} lists several '
                         f'combinations but test_cfg.type is {loop}; use '
                         'MultiCombinationTestLoop')
    else:
        cfg.model.data_preprocessor['test_combination'] = modalities


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    setup_launcher(cfg, args.launcher)
    set_work_dir(cfg, args.config, args.work_dir)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint

    if args.modalities is not None:
        set_combinations(cfg, args.modalities)
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir, args.interval)
    if args.out:
        save_predictions(cfg, args.out)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise KeyError(f'--tta needs `tta_model` and `tta_pipeline` in '
                           f'{args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    runner.test()
    finish_launch()


if __name__ == '__main__':
    main()
