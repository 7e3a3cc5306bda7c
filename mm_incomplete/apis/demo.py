"""Command line of ``tools/demo/image_demo.py`` (and ``mmi-demo``).

Shorthand: M modalities; one sample of up to M files, any of them absent.
"""
import argparse
import json
import logging
from typing import Optional, Sequence

import numpy as np
from mmengine.logging import print_log

from .inferencer import MultiModalInferencer


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        description='Predict one multi-modal sample under every combination '
        'of the modalities it has')
    parser.add_argument('rgb', help='RGB image file, or "-" when absent')
    parser.add_argument('config', help='config file (or a shipped config '
                        'name such as dmrnet/synthetic_seg_cpu.py)')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file '
                        '(without it the weights are random)')
    parser.add_argument('--depth', help='depth file (uint16 PNG in 1/'
                        'depth_scale m, or .npy); absent when not given')
    parser.add_argument('--modality', action='append', default=[],
                        metavar='NAME=PATH', help='file of any other '
                        'modality of the config, e.g. hha=hha.png')
    parser.add_argument('--modalities', default='all',
                        help='"all" (every combination of the given '
                        'modalities), "present" (only all of them together) '
                        'or a list such as "rgb,rgb+depth"')
    parser.add_argument('--out-dir', default='demo_out',
                        help='folder for the panel and the overlays')
    parser.add_argument('--device', default=None, help='cpu, cuda, ...')
    return parser.parse_args(argv)


def sample_from_args(args) -> dict:
    sample = {}
    if args.rgb != '-':
        sample['rgb'] = args.rgb
    if args.depth:
        sample['depth'] = args.depth
    for item in args.modality:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise ValueError(f'--modality expects NAME=PATH, got {item!r}')
        if name in sample:
            raise ValueError(f'modality {name!r} is given twice')
        sample[name] = path
    return sample


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.checkpoint is None:
        print_log('no checkpoint given: the model keeps its random weights',
                  logger='current', level=logging.WARNING)
    inferencer = MultiModalInferencer(args.config, args.checkpoint,
                                      device=args.device)
    sample = sample_from_args(args)
    for name in inferencer.layout.names:
        sample.setdefault(name, None)
    combos = args.modalities
    if combos not in ('all', 'present'):
        combos = [c.strip() for c in combos.split(',') if c.strip()]
    result = inferencer(sample, combination=combos, out_dir=args.out_dir)
    summary = {}
    for combo, pred in result['predictions'].items():
        if isinstance(pred, np.ndarray):
            ids, counts = np.unique(pred, return_counts=True)
            summary[combo] = {int(i): int(c) for i, c in zip(ids, counts)}
        else:
            summary[combo] = dict(pred_label=pred['pred_label'],
                                  pred_score=round(pred['pred_score'], 4))
    print(json.dumps(dict(present=result['present'], out_dir=args.out_dir,
                          predictions=summary)))
    return result
