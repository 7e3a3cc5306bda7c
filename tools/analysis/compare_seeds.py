"""Train and test configs over seeds; one table, JSON and chart per call.

Shorthand: R methods (config specs), N seeds, K combinations (+ the mean).

    python tools/analysis/compare_seeds.py SPEC [SPEC ...] --seeds 0 1 2 \\
        [--labels NAME ...] [--baseline NAME] [--schedule FILE] \\
        [--work-dir DIR] [--out PREFIX] [--metric mIoU] [--cfg-options k=v ...]

A SPEC is a config path, or ``TEACHER=>STUDENT`` for a teacher-student
method: for each seed the teacher is trained first (same seed) and its last
checkpoint handed to the student as ``--teacher-key`` (default
``model.teacher_ckpt``). Each (config, seed) run trains the config with
``randomness.seed`` set, tests its last checkpoint on the test split under
the combinations of the config's ``test_cfg`` (``MultiCombinationTestLoop``;
``'all'`` for most configs) and keeps the record in
``<work-dir>/<config name>/seed<N>/``. Runs already finished are reused (the
script can be stopped and started again), but only if the resolved config
is the same as when the run was made; otherwise it stops and names the run
to delete. A run whose resolved config equals that of another finished run
under ``<work-dir>`` (e.g. a teacher config that only inherits a baseline,
or a teacher shared by several specs) reuses that run instead of training
the same model twice.

``--schedule FILE`` merges a schedule file (e.g.
``configs/_base_/schedules/cpu_seg_600it.py``) into every config, teachers
included, before ``--cfg-options``: its ``train_cfg``, ``param_scheduler``,
``optim_wrapper`` and hooks replace or update the configs' own, the way a
later ``_base_`` entry would. The schedule sets how a model is trained, not
what it is evaluated on: the ``combinations`` of its ``val_cfg`` /
``test_cfg`` are not merged (the script says so), so a model that uses
some combinations only keeps them (a depth-only teacher: ``depth``; a
student that reads RGB alone: ``rgb``) instead of being evaluated under
combinations it never trained on or cannot run.

Methods are compared with ``--baseline`` on the mean over the combinations
both evaluate: the mean over combinations where their combinations are the
same, the mean over the shared ones otherwise (the line names them), and
no comparison where they share none.

Outputs, ``PREFIX`` defaulting to ``<work-dir>/results``:

- ``PREFIX.md``: the command, then a table of mean ± std (sample std over
  seeds, ddof=1) per combination and of the mean over combinations, then
  one line per method comparing its mean over combinations with
  ``--baseline`` (default: the first spec);
- ``PREFIX.json``: every per-seed value, the summaries and the comparisons
  (the numbers of the table, unrounded);
- ``PREFIX.png``: the means as grouped bars with ± std error bars.

Runs happen in this process, one after the other (each with its own
mmengine experiment name, logger and work dir), exactly as
``tools/train.py CONFIG --cfg-options randomness.seed=N ...`` then
``tools/test.py CONFIG CKPT`` would run them.
"""
import argparse
import gc
import hashlib
import json
import os
import os.path as osp
import shlex
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

RUN_FILE = 'run.json'  # the spec and test record of a finished run
CHAIN = '=>'


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('specs', nargs='+', metavar='SPEC',
                   help='CONFIG or TEACHER=>STUDENT')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--labels', nargs='+',
                   help='one name per spec (default: the config name)')
    p.add_argument('--baseline',
                   help='label compared against (default: the first spec)')
    p.add_argument('--work-dir', default='work_dirs/compare')
    p.add_argument('--out', help='output prefix for .md/.json/.png '
                   '(default: <work-dir>/results)')
    p.add_argument('--metric',
                   help='metric per combination (default: mIoU for mmseg '
                   'configs, accuracy/top1 for mmpretrain ones)')
    p.add_argument('--schedule',
                   help='schedule file merged into every config')
    p.add_argument('--teacher-key', default='model.teacher_ckpt',
                   help='config key the teacher checkpoint is passed as')
    p.add_argument('--title', help='chart title')
    p.add_argument('--compare-on', nargs='+', default=[], metavar='COMBO',
                   help='also compare every method with the baseline on '
                   'each of these combinations alone (e.g. rgb depth)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='key=value overrides applied to every run')
    args = p.parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.specs):
        p.error(f'--labels gives {len(args.labels)} names for '
                f'{len(args.specs)} specs')
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds repeats a seed: {args.seeds}')
    return args


def config_name(config: str) -> str:
    """``configs/dmrnet/synthetic_seg_cpu.py`` -> ``dmrnet_synthetic_seg_cpu``.

    Example:
        >>> config_name('configs/dmrnet/synthetic_seg_cpu.py')
        'dmrnet_synthetic_seg_cpu'
    """
    path = osp.abspath(config)
    for base in (osp.join(ROOT, 'configs'),
                 osp.join(ROOT, 'mm_incomplete', 'configs')):
        if path.startswith(base + os.sep):
            path = osp.relpath(path, base)
            break
    else:
        path = osp.basename(path)
    return osp.splitext(path)[0].replace(os.sep, '_')


def parse_spec(spec: str):
    """``'T=>S'`` -> (T, S); ``'C'`` -> (None, C); errors name the spec."""
    parts = [p.strip() for p in spec.split(CHAIN)]
    if len(parts) > 2 or not all(parts):
        raise ValueError(f'spec {spec!r}: use CONFIG or TEACHER{CHAIN}STUDENT')
    for p in parts:
        if not osp.isfile(p):
            raise FileNotFoundError(f'spec {spec!r}: no config file {p!r}')
    return (None, parts[0]) if len(parts) == 1 else tuple(parts)


def _fingerprint(cfg) -> str:
    """sha256 of the resolved config (sorted JSON; ``pretty_text`` would
    format it with yapf, which costs seconds per call)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def load_schedule(path: Optional[str]) -> dict:
    """The variables of a schedule file as a dict (empty for None), less
    the ``combinations`` of its ``val_cfg`` / ``test_cfg``."""
    if path is None:
        return {}
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'--schedule: no file {path!r}')
    sched = Config.fromfile(path).to_dict()
    known = {'max_iters', 'train_cfg', 'val_cfg', 'test_cfg',
             'param_scheduler', 'optim_wrapper', 'default_hooks'}
    unknown = sorted(set(sched) - known)
    if unknown or 'train_cfg' not in sched:
        raise ValueError(f'--schedule {path}: a schedule defines train_cfg '
                         f'and only {sorted(known)}; found {sorted(sched)}')
    sched.pop('max_iters', None)
    for loop in ('val_cfg', 'test_cfg'):
        if 'combinations' in sched.get(loop, {}):
            dropped = sched[loop].pop('combinations')
            print(f'[compare] --schedule {path}: {loop}.combinations='
                  f'{dropped!r} not merged; every config keeps its own',
                  flush=True)
    return sched


def _build_cfg(config: str, seed: int, options: dict, work_dir: str,
               stage: str, schedule: Optional[dict] = None):
    from mm_incomplete.utils.launch import load_config
    cfg = load_config(config)
    if schedule:
        cfg.merge_from_dict(schedule)
    cfg.merge_from_dict(dict(options, **{'randomness.seed': seed}))
    fingerprint = _fingerprint(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    # a logger/visualizer/scope of its own for every run of this process
    cfg.experiment_name = (f'{osp.basename(osp.dirname(work_dir))}_'
                           f'{osp.basename(work_dir)}_{stage}_'
                           f'{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}')
    return cfg, fingerprint


def _same_run(work_root: str, fingerprint: str) -> Optional[dict]:
    """A finished run under ``work_root`` with this resolved config."""
    import glob
    for path in sorted(glob.glob(osp.join(work_root, '*', 'seed*',
                                          RUN_FILE))):
        with open(path) as f:
            done = json.load(f)
        if done.get('fingerprint') == fingerprint:
            return done
    return None


def build_runner(cfg):
    """As tools/train.py: the config's ``runner_type`` or mmengine's Runner."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)


def run_one(config: str, seed: int, work_root: str, options: dict,
            schedule: Optional[dict] = None) -> dict:
    """Train + test one (config, seed); returns the content of run.json.

    A finished run with the same resolved config is reused; one made with
    another resolved config in this run's folder raises, naming the folder.
    """
    import mm_incomplete  # noqa: F401  registers everything
    wd = osp.join(work_root, config_name(config), f'seed{seed}')
    run_file = osp.join(wd, RUN_FILE)
    cfg, fingerprint = _build_cfg(config, seed, options, wd, 'train',
                                  schedule)
    if osp.isfile(run_file):
        with open(run_file) as f:
            done = json.load(f)
        if done.get('fingerprint') != fingerprint:
            raise RuntimeError(
                f'{wd} holds a run of {done.get("config")} (seed '
                f'{done.get("seed")}, options {done.get("options")}) made '
                f'with another resolved config than {config} with options '
                f'{options}; delete {wd} or choose another --work-dir')
        print(f'[compare] reusing {run_file}', flush=True)
        return done
    same = _same_run(work_root, fingerprint)
    if same is not None:
        print(f'[compare] {config} seed {seed} resolves to the same config '
              f'as {same["config"]} seed {same["seed"]}: reusing that run '
              f'({same["checkpoint"]})', flush=True)
        return same
    print(f'[compare] train {config} seed {seed} -> {wd}', flush=True)
    start = time.time()
    runner = build_runner(cfg)
    runner.train()
    with open(osp.join(wd, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    if runner.iter != runner.max_iters or not osp.isfile(ckpt):
        raise RuntimeError(f'{config} seed {seed}: training stopped at '
                           f'iteration {runner.iter} of {runner.max_iters}'
                           f' (last checkpoint {ckpt!r})')
    train_s = time.time() - start
    del runner
    gc.collect()
    cfg, _ = _build_cfg(config, seed, options, osp.join(wd, 'test'), 'test',
                        schedule)
    print(f'[compare] test {ckpt} under test_cfg.combinations='
          f'{cfg.test_cfg.get("combinations", "all")!r}', flush=True)
    cfg.load_from = ckpt
    runner = build_runner(cfg)
    runner.test()
    record_path = runner.test_loop.last_json
    if not record_path:
        raise RuntimeError(f'{config}: the test loop wrote no metrics JSON '
                           '(test_cfg must be MultiCombinationTestLoop)')
    del runner
    gc.collect()
    from mm_incomplete.evaluation.combination_metrics import load_record
    done = dict(config=config, seed=seed, options=options,
                fingerprint=fingerprint, checkpoint=ckpt,
                record_path=record_path, record=load_record(record_path),
                train_seconds=round(train_s, 1),
                total_seconds=round(time.time() - start, 1))
    with open(run_file, 'w') as f:
        json.dump(done, f, indent=2)
        f.write('\n')
    return done


def _default_metric(config: str) -> str:
    from mm_incomplete.utils.launch import load_config
    scope = load_config(config).get('default_scope', 'mmseg')
    return 'mIoU' if scope == 'mmseg' else 'accuracy/top1'


def summarise(runs: Sequence[dict], metric: str, label: str) -> dict:
    """Per-seed values and mean ± sample std per combination (and mean).

    Example:
        >>> run = lambda v: dict(seed=0, record=dict(
        ...     combinations=['rgb'], metrics={'rgb': {'mIoU': v},
        ...                                    'mean': {'mIoU': v}}))
        >>> s = summarise([run(40.0), run(42.0)], 'mIoU', 'm')
        >>> s['summary']['rgb']
        {'mean': 41.0, 'std': 1.4142135623730951}
    """
    combos = list(runs[0]['record']['combinations']) + ['mean']
    per_seed = {}
    for c in combos:
        vals = []
        for r in runs:
            row = r['record']['metrics'].get(c)
            if row is None or metric not in row:
                raise KeyError(f'{label}: the test record of seed '
                               f'{r["seed"]} ({r.get("record_path")}) has no '
                               f'{metric!r} for combination {c!r}')
            vals.append(float(row[metric]))
        per_seed[c] = vals
    summary = {c: dict(mean=float(np.mean(v)),
                       std=float(np.std(v, ddof=1)) if len(v) > 1 else None)
               for c, v in per_seed.items()}
    return dict(combinations=combos, per_seed=per_seed, summary=summary)


def _shared_mean(res: dict, combos: Sequence[str]) -> np.ndarray:
    """Per-seed mean of ``res`` over ``combos`` (N,)."""
    return np.mean([res['per_seed'][c] for c in combos], axis=0)


def compare(method: dict, baseline: dict) -> dict:
    """Difference to the baseline, paired by seed, on what both evaluate.

    Where both evaluate the same combinations, the difference of their
    means over combinations (``over='mean over combinations'``); where
    they share some, of their means over the shared ones (``over='mean
    over rgb, depth'``, ``'on rgb'`` for one); where they share none
    (a depth-only teacher against an RGB-only model), no difference:
    ``verdict='no common combination'`` and ``difference`` None.

    ``verdict`` is ``'beats'`` where the mean difference is positive and
    larger than the std of the per-seed differences, ``'within spread'``
    where it is positive but not larger, ``'does not beat'`` otherwise, and
    ``'undecided (one seed)'`` with a single seed (no spread to compare
    with).
    """
    own = [c for c in method['combinations'] if c != 'mean']
    base = [c for c in baseline['combinations'] if c != 'mean']
    shared = [c for c in own if c in base]
    if sorted(own) == sorted(base):
        over = 'mean over combinations'
        a = np.asarray(method['per_seed']['mean'])
        b = np.asarray(baseline['per_seed']['mean'])
    elif shared:
        over = (f'on {shared[0]}' if len(shared) == 1 else
                f'mean over {", ".join(shared)}')
        a, b = _shared_mean(method, shared), _shared_mean(baseline, shared)
    else:
        return dict(over=None, shared=[], difference=None,
                    difference_std=None, per_seed_difference=None,
                    verdict='no common combination')
    if a.shape != b.shape:
        raise ValueError('method and baseline ran different numbers of '
                         'seeds')
    diff = a - b
    mean = float(diff.mean())
    out = dict(over=over, shared=shared, difference=mean,
               difference_std=None, per_seed_difference=diff.tolist())
    if len(diff) < 2:
        return dict(out, verdict='undecided (one seed)')
    spread = float(diff.std(ddof=1))
    verdict = ('beats' if mean > spread else
               'within spread' if mean > 0 else 'does not beat')
    return dict(out, difference_std=spread, verdict=verdict)


def compare_on(method: dict, baseline: dict, combo: str) -> dict:
    """``compare`` on one combination (or ``'mean'``), paired over the
    seeds both have (``method['seeds']``, ``baseline['seeds']``).

    ``over`` is ``'on <combo>'`` (``'mean over combinations'`` for
    ``'mean'``, which both must take over the same combinations: an error
    otherwise); where either did not evaluate ``combo``, ``difference`` is
    None and ``verdict`` says so.

    Example:
        >>> res = lambda *v: dict(seeds=[0, 1], per_seed=dict(rgb=list(v)))
        >>> c = compare_on(res(41.0, 43.0), res(40.0, 40.0), 'rgb')
        >>> c['over'], c['per_seed_difference'], c['verdict']
        ('on rgb', [1.0, 3.0], 'beats')
    """
    over = 'mean over combinations' if combo == 'mean' else f'on {combo}'
    missing = [n for n, r in (('method', method), ('baseline', baseline))
               if combo not in r['per_seed']]
    if missing:
        return dict(over=over, shared=[], difference=None,
                    difference_std=None, per_seed_difference=None,
                    verdict=f'{combo} not evaluated by the '
                            f'{" and ".join(missing)}')
    shared = [combo]
    if combo == 'mean':
        own, base = ([c for c in r['combinations'] if c != 'mean']
                     for r in (method, baseline))
        if sorted(own) != sorted(base):
            raise ValueError(
                f"compare_on 'mean': the method's mean is over {own}, the "
                f"baseline's over {base}; compare() compares means over "
                'the shared combinations')
        shared = own
    common = [s for s in method['seeds'] if s in baseline['seeds']]
    if not common:
        raise ValueError(f'compare_on {combo!r}: no seed in common '
                         f'({method["seeds"]} vs {baseline["seeds"]})')

    def pick(res):
        # one series under compare's 'mean' key: compared as it is
        return dict(combinations=['mean'], per_seed=dict(
            mean=[res['per_seed'][combo][res['seeds'].index(s)]
                  for s in common]))
    return dict(compare(pick(method), pick(baseline)), over=over,
                shared=shared, seeds=common)


def _cell(summary: dict) -> str:
    """``mean ± std`` with two decimals; the mean alone for one seed."""
    if summary['std'] is None:
        return f'{summary["mean"]:.2f}'
    return f'{summary["mean"]:.2f} ± {summary["std"]:.2f}'


def markdown(results: Dict[str, dict], metric: str, seeds: Sequence[int],
             baseline: str, command: str) -> str:
    combos: List[str] = []
    for res in results.values():
        combos += [c for c in res['combinations'] if c not in combos]
    combos = [c for c in combos if c != 'mean'] + ['mean']
    lines = [f'`{command}`', '',
             f'Test {metric} (%), mean ± std (sample std) over seeds '
             f'{", ".join(map(str, seeds))}:', '',
             '| method | ' + ' | '.join(combos) + ' |',
             '| --- | ' + ' | '.join('---' for _ in combos) + ' |']
    for label, res in results.items():
        cells = [_cell(res['summary'][c]) if c in res['summary'] else '-'
                 for c in combos]
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    lines.append('')
    for label, res in results.items():
        if label == baseline:
            continue
        for cmp in [res['vs_baseline']] + list(
                res.get('vs_baseline_on', {}).values()):
            lines.append(_comparison_line(label, baseline, cmp))
    return '\n'.join(lines) + '\n'


def _comparison_line(label: str, baseline: str, cmp: dict) -> str:
    """One bullet of the table's comparisons (``compare``'s dict)."""
    if cmp['difference'] is None:
        why = ('no combination in common' if cmp['over'] is None
               else cmp['verdict'])
        return f'- {label} vs {baseline}: {why}, not compared.'
    diffs = ', '.join(f'{d:+.2f}' for d in cmp['per_seed_difference'])
    spread = '' if cmp['difference_std'] is None else \
        f' ± {cmp["difference_std"]:.2f}'
    return (f'- {label} vs {baseline}, {cmp["over"]}: '
            f'{cmp["difference"]:+.2f}{spread} (per seed {diffs}): '
            f'{cmp["verdict"]}.')


def plot(results: Dict[str, dict], metric: str, out: str,
         title: Optional[str]) -> str:
    import plot_combinations
    combos: List[str] = []
    for res in results.values():
        combos += [c for c in res['combinations'] if c not in combos]
    order = [c for c in combos if c != 'mean'] + ['mean']
    series = {label: {c: v['mean'] for c, v in res['summary'].items()}
              for label, res in results.items()}
    errors = {label: {c: v['std'] or 0.0 for c, v in res['summary'].items()}
              for label, res in results.items()}
    return plot_combinations.plot(order, series, metric, out, title,
                                  errors=errors)


def main(argv=None):
    args = parse_args(argv)
    parsed = [parse_spec(s) for s in args.specs]
    labels = args.labels or [config_name(student) for _, student in parsed]
    if len(set(labels)) != len(labels):
        raise SystemExit(f'[compare] two specs share a name: {labels}; '
                         'give --labels')
    baseline = args.baseline or labels[0]
    if baseline not in labels:
        raise SystemExit(f'[compare] --baseline {baseline!r} is not one of '
                         f'{labels}')
    metric = args.metric or _default_metric(parsed[0][1])
    schedule = load_schedule(args.schedule)
    out = args.out or osp.join(args.work_dir, 'results')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    command = 'python tools/analysis/compare_seeds.py ' + ' '.join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    results = {}
    for label, (teacher, student) in zip(labels, parsed):
        runs = []
        for seed in args.seeds:
            options = dict(args.cfg_options)
            if teacher is not None:
                t = run_one(teacher, seed, args.work_dir, args.cfg_options,
                            schedule)
                options[args.teacher_key] = t['checkpoint']
            runs.append(run_one(student, seed, args.work_dir, options,
                                schedule))
        res = summarise(runs, metric, label)
        res.update(config=student, teacher=teacher, seeds=list(args.seeds),
                   record_paths=[r['record_path'] for r in runs],
                   train_seconds=[r['train_seconds'] for r in runs])
        results[label] = res
    unknown = [c for c in args.compare_on
               if c not in results[baseline]['per_seed']]
    if unknown:
        raise SystemExit(f'[compare] --compare-on {unknown}: the baseline '
                         f'{baseline!r} evaluates '
                         f'{results[baseline]["combinations"]}')
    for label, res in results.items():
        if label != baseline:
            res['vs_baseline'] = compare(res, results[baseline])
            if args.compare_on:
                res['vs_baseline_on'] = {
                    c: compare_on(res, results[baseline], c)
                    for c in args.compare_on}

    md = markdown(results, metric, args.seeds, baseline, command)
    with open(out + '.md', 'w') as f:
        f.write(md)
    with open(out + '.json', 'w') as f:
        json.dump(dict(command=command, metric=metric, seeds=args.seeds,
                       schedule=args.schedule,
                       baseline=baseline, std='sample std over seeds (ddof=1)',
                       methods=results), f, indent=2)
        f.write('\n')
    plot(results, metric, out + '.png', args.title)
    print(f'\n{md}\n[compare] wrote {out}.md, {out}.json, {out}.png',
          flush=True)
    return results


if __name__ == '__main__':
    main()
