"""Train and test configs over several seeds; tabulate per-combination results.

    python tools/analysis/compare_seeds.py CONFIG [CONFIG ...] --seeds 0 1 2 \
        [--work-dir work_dirs/compare] [--metric mIoU] [--cfg-options k=v ...]
        [--out results.md]

Each (config, seed) trains with ``tools/train.py`` (``randomness.seed`` set),
then tests its last checkpoint with ``tools/test.py`` under every
combination. The table gives mean ± std over seeds per combination and the
mean over combinations; runs already finished (their test JSON exists) are
reused, so the script can be stopped and started again. A config written
``TEACHER=>STUDENT`` trains the teacher first and hands its checkpoint to the
student as ``--cfg-options model.teacher_ckpt=...``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--work-dir', default='work_dirs/compare')
    p.add_argument('--metric', default='mIoU')
    p.add_argument('--cfg-options', nargs='+', default=[])
    p.add_argument('--out', help='write the markdown table here too')
    return p.parse_args(argv)


def _name(config):
    return osp.splitext(osp.relpath(config, osp.join(ROOT, 'configs')))[0] \
        .replace(os.sep, '_')


def _run(args):
    print('[compare] ' + ' '.join(args), flush=True)
    proc = subprocess.run(args, cwd=os.getcwd())
    if proc.returncode:
        sys.exit(f'[compare] failed ({proc.returncode}): {" ".join(args)}')


def _last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train_and_test(config, seed, work_root, cfg_options, extra=()):
    """Train + test one seed; returns the test record (dict)."""
    wd = osp.join(work_root, f'{_name(config)}_seed{seed}')
    done = glob.glob(osp.join(wd, 'test', '*', 'combination_metrics_test.json'))
    if not done:
        opts = [f'randomness.seed={seed}', *cfg_options, *extra]
        _run([sys.executable, osp.join(ROOT, 'tools/train.py'), config,
              '--work-dir', wd, '--cfg-options', *opts])
        _run([sys.executable, osp.join(ROOT, 'tools/test.py'), config,
              _last_checkpoint(wd), '--work-dir', osp.join(wd, 'test'),
              '--cfg-options', *opts])
        done = glob.glob(
            osp.join(wd, 'test', '*', 'combination_metrics_test.json'))
    with open(sorted(done)[-1]) as f:
        return json.load(f), wd


def table(results, metric):
    """results: {method: [record per seed]} -> markdown."""
    combos = []
    for records in results.values():
        for c in records[0]['combinations'] + ['mean']:
            if c not in combos:
                combos.append(c)
    lines = ['| method | seeds | ' + ' | '.join(combos) + ' |',
             '| --- | --- | ' + ' | '.join('---' for _ in combos) + ' |']
    for method, records in results.items():
        cells = []
        for c in combos:
            vals = [r['metrics'][c][metric] for r in records
                    if c in r['metrics']]
            cells.append(f'{np.mean(vals):.2f} ± {np.std(vals):.2f}'
                         if vals else '-')
        lines.append(f'| {method} | {len(records)} | ' + ' | '.join(cells) +
                     ' |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    results = {}
    for spec in args.configs:
        teacher, _, student = spec.rpartition('=>')
        method = _name(student)
        for seed in args.seeds:
            extra = ()
            if teacher:
                _, twd = train_and_test(teacher, seed, args.work_dir,
                                        args.cfg_options)
                extra = (f'model.teacher_ckpt={_last_checkpoint(twd)}', )
            record, _ = train_and_test(student, seed, args.work_dir,
                                       args.cfg_options, extra)
            results.setdefault(method, []).append(record)
    md = table(results, args.metric)
    print(f'\n[compare] test {args.metric}, mean ± std over seeds '
          f'{args.seeds}:\n{md}')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(md + '\n')


if __name__ == '__main__':
    main()
