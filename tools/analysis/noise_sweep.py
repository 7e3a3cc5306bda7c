"""Every combination's test metric against a fixed noise level per modality,
for trained runs over seeds; one table, JSON and plot per call.

Shorthand: R methods, N seeds, K combinations (+ the mean), L levels,
M modalities.

    python tools/analysis/noise_sweep.py \\
        --method UDML 'work/udml_synthetic_cls_cpu/seed*/run.json' \\
        --method ModDrop+noise \\
            'work/udml_synthetic_cls_moddrop_noise_cpu/seed*/run.json' \\
        [--baseline ModDrop+noise] [--levels 1 5 9 11] [--noisy rgb depth] \\
        [--metric accuracy/top1] [--work-dir DIR] --out PREFIX

Each ``--method LABEL RUN [RUN ...]`` names a method and its runs: the
``run.json`` files ``tools/analysis/compare_seeds.py`` writes (config, seed,
options, checkpoint and the run's own clean test record; globs are
expanded), or ``CONFIG:CHECKPOINT`` pairs (seeds 0, 1, ... in the given
order). Every run's checkpoint is tested on the test split under every
combination (``MultiCombinationTestLoop``, exactly as compare_seeds tests
it) once on clean data and once per (noisy modality, level), the other
modalities clean. The noise is :class:`MultiModalNoiseInjection` with
``fixed_levels={modality: l}`` (the transform UDML trains with, not a second
implementation), inserted into the config's test pipeline where the
training pipeline has it: before the first test step that follows it in
training (``MultiModalPad`` / the pack step), i.e. after loading and any
resizing, on raw values (RGB 0..255, depth in metres; the data
preprocessor normalises later). A configuration without noise in training
gets it right before its pack step. Its own generator is seeded with
``--noise-seed`` for every (run, setting), so every checkpoint sees the
same noisy images. ``l = 1`` leaves a modality untouched, so the level-1
point of every curve is the clean run (tested once). ``max_level`` and the
relative (depth) modalities are the training pipelines' (which must agree;
defaults 11 and ``depth``).

The clean run must reproduce the run's own test record (``record`` in
run.json) within ``--tolerance`` points for every combination; otherwise the
tool stops and names the run (the data, the config or the checkpoint are
not what the run was made with). Finished evaluations are cached under
``--work-dir`` (keyed by checkpoint, its size and time, and the setting), so
a stopped sweep resumes. One runner is built per run (building one costs
seconds), one test loop per setting.

Outputs, ``PREFIX``:

- ``PREFIX.md``: the command, the noise, then per noisy modality a table
  (rows: method x combination and the mean over combinations; columns: the
  levels) of mean ± std (sample std over seeds, ddof=1), then per setting
  each method against ``--baseline`` (default: the first method) on the
  full combination and on the mean over combinations, paired by seed
  (compare_seeds' ``compare_on``: 'beats' only where the mean difference
  exceeds the std of the per-seed differences);
- ``PREFIX.json``: every per-seed value, the summaries and comparisons;
- ``PREFIX.png``: the metric against the level, one panel per noisy
  modality, one colour per method (full combination solid, mean over
  combinations dashed, the other modalities alone dotted: the level a
  fusion that ignored the noisy modality would keep; ± std bars);
  ``PREFIX_clean.png``: the clean every-combination bars (compare_seeds'
  chart).
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import shlex
import sys
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

import compare_seeds  # noqa: E402

NOISE = 'MultiModalNoiseInjection'
CLEAN = 'clean'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--method', nargs='+', action='append', required=True,
                   metavar='LABEL RUN',
                   help='a label then its runs: run.json files (globs '
                   'expanded) or CONFIG:CHECKPOINT pairs')
    p.add_argument('--baseline',
                   help='label compared against (default: the first)')
    p.add_argument('--levels', nargs='+', type=int, default=[1, 5, 9, 11],
                   help='noise levels (1 = clean)')
    p.add_argument('--noisy', nargs='+',
                   help='modalities to corrupt one at a time (default: '
                   'every modality of the layout)')
    p.add_argument('--metric',
                   help='default: mIoU (mmseg), accuracy/top1 (mmpretrain)')
    p.add_argument('--noise-seed', type=int, default=0)
    p.add_argument('--max-level', type=int,
                   help='default: the training pipelines\' (else 11)')
    p.add_argument('--relative', nargs='*',
                   help='modalities with relative noise (default: the '
                   'training pipelines\' (else depth))')
    p.add_argument('--tolerance', type=float, default=0.1,
                   help='allowed |clean - run.json record| per combination '
                   '(points)')
    p.add_argument('--work-dir', default='work_dirs/noise_sweep')
    p.add_argument('--out', required=True,
                   help='output prefix for .md/.json/.png')
    p.add_argument('--title', help='plot title')
    args = p.parse_args(argv)
    if any(len(m) < 2 for m in args.method):
        p.error('--method needs a label and at least one run')
    if len(set(args.levels)) != len(args.levels) or min(args.levels) < 1:
        p.error(f'--levels must be distinct and >= 1, got {args.levels}')
    return args


# -- runs ---------------------------------------------------------------
def load_runs(label: str, items: Sequence[str]) -> List[dict]:
    """``[{config, seed, options, checkpoint, record}]`` sorted by seed."""
    runs = []
    for item in items:
        if item.endswith('.json'):
            paths = sorted(glob.glob(item))
            if not paths:
                raise FileNotFoundError(f'--method {label}: no file matches '
                                        f'{item!r}')
            for path in paths:
                with open(path) as f:
                    run = json.load(f)
                missing = [k for k in ('config', 'seed', 'checkpoint')
                           if k not in run]
                if missing:
                    raise KeyError(f'--method {label}: {path} has no '
                                   f'{missing} (not a compare_seeds run.json)')
                runs.append(dict(config=run['config'], seed=int(run['seed']),
                                 options=run.get('options') or {},
                                 checkpoint=run['checkpoint'],
                                 record=run.get('record'), source=path))
        else:
            config, sep, ckpt = item.rpartition(':')
            if not sep or not config:
                raise ValueError(f'--method {label}: {item!r} is neither a '
                                 'run.json nor CONFIG:CHECKPOINT')
            runs.append(dict(config=config, seed=len(runs), options={},
                             checkpoint=ckpt, record=None, source=item))
    seeds = [r['seed'] for r in runs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'--method {label}: seeds repeat ({seeds}); give '
                         'each seed once')
    for r in runs:
        for key in ('config', 'checkpoint'):
            if not osp.isfile(r[key]):
                raise FileNotFoundError(
                    f'--method {label}: {r["source"]}: no {key} file '
                    f'{r[key]!r} (a relative config path is read from the '
                    f'current folder, {os.getcwd()})')
    return sorted(runs, key=lambda r: r['seed'])


# -- the noisy test pipeline ----------------------------------------------
def _pipeline_holder(dataset: dict, where: str) -> dict:
    """The (possibly wrapped) dataset config that holds the pipeline."""
    while 'pipeline' not in dataset:
        if 'dataset' not in dataset:
            raise KeyError(f'{where}: no pipeline in {dataset!r}')
        dataset = dataset['dataset']
    return dataset


def training_noise(cfg) -> Optional[dict]:
    """The training pipeline's MultiModalNoiseInjection config (or None)."""
    holder = _pipeline_holder(cfg.train_dataloader.dataset,
                              'train_dataloader.dataset')
    steps = [t for t in holder['pipeline'] if t['type'] == NOISE]
    if len(steps) > 1:
        raise ValueError(f'the training pipeline has {len(steps)} {NOISE} '
                         'steps; expected at most one')
    return steps[0] if steps else None


def noise_position(train_pipeline: Sequence[dict],
                   test_pipeline: Sequence[dict]) -> int:
    """Index of the test pipeline before which the noise goes: the first
    test step whose type follows the noise in training; without noise in
    training, the pack step.

    Example:
        >>> train = [dict(type='Load'), dict(type='Resize'),
        ...          dict(type=NOISE), dict(type='Pad'), dict(type='Pack')]
        >>> noise_position(train, [dict(type='Load'), dict(type='Pack')])
        1
    """
    types = [t['type'] for t in train_pipeline]
    if NOISE in types:
        after = set(types[types.index(NOISE) + 1:])
        where = 'the step that follows it in training'
    else:
        after = {t for t in types if t.startswith('Pack')}
        where = 'a Pack* step'
    for i, step in enumerate(test_pipeline):
        if step['type'] in after:
            break
    else:
        raise ValueError(f'cannot place the noise in the test pipeline '
                         f'{[t["type"] for t in test_pipeline]}: it has no '
                         f'{where} ({sorted(after)})')
    for step in test_pipeline[:i]:
        if 'Normal' in step['type']:
            raise ValueError(f'the test pipeline normalises ({step["type"]}) '
                             'before the place of the noise; the noise acts '
                             'on raw values (RGB 0..255)')
    return i


def noise_step(modality: str, level: int, max_level: int,
               relative: Sequence[str], seed: int) -> dict:
    """The fixed-level evaluation noise: ``modality`` at ``level``, every
    other modality clean (level 1)."""
    return dict(type=NOISE, modalities=(modality, ), max_level=max_level,
                clean_prob=0.0, relative_modalities=tuple(relative),
                fixed_levels={modality: int(level)}, enabled=True, seed=seed)


def add_test_noise(cfg, step: Optional[dict]) -> None:
    """Insert ``step`` (None: nothing) into ``cfg``'s test pipeline where
    the training pipeline has its noise (:func:`noise_position`)."""
    if step is None:
        return
    test = _pipeline_holder(cfg.test_dataloader.dataset,
                            'test_dataloader.dataset')
    train = _pipeline_holder(cfg.train_dataloader.dataset,
                             'train_dataloader.dataset')
    pipeline = list(test['pipeline'])
    if any(t['type'] == NOISE for t in pipeline):
        raise ValueError(f'the test pipeline already has {NOISE}; the '
                         'sweep adds its own')
    pipeline.insert(noise_position(train['pipeline'], pipeline), step)
    test['pipeline'] = pipeline


def noise_options(cfgs: Dict[str, object], max_level: Optional[int],
                  relative: Optional[Sequence[str]]) -> Tuple[int, tuple]:
    """max_level and relative modalities: given, or the training
    pipelines' (which must agree with each other and with what is given)."""
    seen = {}
    for name, cfg in cfgs.items():
        t = training_noise(cfg)
        if t is not None:
            seen[name] = (int(t.get('max_level', 11)),
                          tuple(t.get('relative_modalities', ('depth', ))))
    values = set(seen.values())
    if len(values) > 1:
        raise ValueError(f'the training pipelines\' {NOISE} differ in '
                         f'(max_level, relative_modalities): {seen}')
    trained = values.pop() if values else (11, ('depth', ))
    chosen = (trained[0] if max_level is None else int(max_level),
              trained[1] if relative is None else tuple(relative))
    if seen and chosen != trained:
        raise ValueError(f'--max-level/--relative {chosen} differ from the '
                         f'training noise {trained} of {sorted(seen)}')
    return chosen


def settings(noisy: Sequence[str], levels: Sequence[int]) -> List[tuple]:
    """``[(name, modality, level)]``: clean first, then every (modality,
    level > 1).

    Example:
        >>> [s[0] for s in settings(['rgb'], [1, 5])]
        ['clean', 'rgb@5']
    """
    out = [(CLEAN, None, 1)]
    out += [(f'{m}@{lvl}', m, lvl) for m in noisy for lvl in levels
            if lvl > 1]
    return out


# -- evaluation -----------------------------------------------------------
def _cache_key(run: dict, setting: str, step: Optional[dict]) -> str:
    st = os.stat(run['checkpoint'])
    text = json.dumps([osp.abspath(run['checkpoint']), st.st_size,
                       st.st_mtime, run['config'], run['options'], setting,
                       step], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def evaluate_run(run: dict, steps: Dict[str, Optional[dict]],
                 work_dir: str) -> Dict[str, dict]:
    """The test records of one run under every noise setting.

    One runner per run (as compare_seeds tests: the config, the checkpoint
    loaded strictly, ``MultiCombinationTestLoop``), one test loop per
    setting over the config's test dataloader with the noise inserted.
    Records are cached in ``work_dir`` (``<key>.json``).
    """
    import copy

    from mmengine.registry import LOOPS

    from mm_incomplete.evaluation.combination_metrics import load_record
    out, todo = {}, {}
    for setting, step in steps.items():
        cache = osp.join(work_dir,
                         f'{setting}_{_cache_key(run, setting, step)}.json')
        if osp.isfile(cache):
            out[setting] = load_record(cache)
        else:
            todo[setting] = (step, cache)
    if not todo:
        return out
    cfg, _ = compare_seeds._build_cfg(run['config'], run['seed'],
                                      run['options'], work_dir, 'noise')
    cfg.load_from = run['checkpoint']
    runner = compare_seeds.build_runner(cfg)
    runner.call_hook('before_run')
    runner.load_or_resume()
    for setting, (step, cache) in todo.items():
        print(f'[noise_sweep] {run["config"]} seed {run["seed"]}: '
              f'{setting}', flush=True)
        test_cfg = copy.deepcopy(cfg)
        add_test_noise(test_cfg, step)
        loop = LOOPS.build(
            copy.deepcopy(test_cfg.test_cfg),
            default_args=dict(runner=runner,
                              dataloader=test_cfg.test_dataloader,
                              evaluator=test_cfg.test_evaluator))
        loop.run()
        if not getattr(loop, 'last_json', None):
            raise RuntimeError(f'{run["config"]}: the test loop wrote no '
                               'metrics JSON (test_cfg must be '
                               'MultiCombinationTestLoop)')
        record = load_record(loop.last_json)
        record['noise'] = step
        with open(cache, 'w') as f:
            json.dump(record, f, indent=2)
        out[setting] = record
    runner.call_hook('after_run')
    del runner
    return out


def check_clean(label: str, run: dict, record: dict, metric: str,
                tolerance: float) -> None:
    """The clean evaluation must reproduce the run's own test record."""
    ref = run.get('record')
    if not ref:
        return
    for combo in ref['combinations']:
        a = record['metrics'].get(combo, {}).get(metric)
        b = ref['metrics'][combo].get(metric)
        if a is None or b is None or abs(a - b) > tolerance:
            raise RuntimeError(
                f'{label} seed {run["seed"]} ({run["source"]}): the clean '
                f'test gives {metric} {a} for {combo!r}, its run.json '
                f'record {b} (tolerance {tolerance}); the data, config or '
                'checkpoint differ from the run\'s')


# -- summaries ------------------------------------------------------------
def summarise_setting(records: Sequence[Tuple[int, dict]], metric: str,
                      label: str) -> dict:
    """compare_seeds' summary of one setting from (seed, record) pairs."""
    runs = [dict(seed=s, record=r) for s, r in records]
    return compare_seeds.summarise(runs, metric, label)


def compare_setting(method: dict, baseline: dict, full: str) -> dict:
    """Paired by seed over the seeds both have: the full combination and
    the mean over combinations (compare_seeds' ``compare_on``)."""
    common = [s for s in method['seeds'] if s in baseline['seeds']]
    return dict(seeds=common,
                full=compare_seeds.compare_on(method, baseline, full),
                mean=compare_seeds.compare_on(method, baseline, 'mean'))


def _row_cells(res_by_level: Dict[int, dict], combo: str,
               levels: Sequence[int]) -> List[str]:
    return [compare_seeds._cell(res_by_level[lvl]['summary'][combo])
            for lvl in levels]


def markdown(results: dict, metric: str, noisy: Sequence[str],
             levels: Sequence[int], baseline: str, full: str,
             noise_desc: str, command: str) -> str:
    seeds = '; '.join(f'{label}: {", ".join(map(str, res["seeds"]))}'
                      for label, res in results.items())
    lines = [f'`{command}`', '',
             f'Test {metric} (%), mean ± std (sample std over seeds; seeds '
             f'{seeds}). {noise_desc}', '']
    for m in noisy:
        lines += [f'Noise on {m}, every other modality clean:', '',
                  '| method | combination | ' +
                  ' | '.join(f'l = {lvl}' for lvl in levels) + ' |',
                  '| --- | --- | ' + ' | '.join('---' for _ in levels) +
                  ' |']
        for label, res in results.items():
            by_level = {lvl: res['settings'][CLEAN if lvl == 1 else
                                             f'{m}@{lvl}'] for lvl in levels}
            for combo in res['settings'][CLEAN]['combinations']:
                lines.append(f'| {label} | {combo} | ' + ' | '.join(
                    _row_cells(by_level, combo, levels)) + ' |')
        lines.append('')
    for label, res in results.items():
        if label == baseline:
            continue
        lines += [f'{label} vs {baseline}, paired by seed (seeds '
                  f'{", ".join(map(str, res["vs_baseline"][CLEAN]["seeds"]))}'
                  f'): difference ± std of the per-seed differences', '',
                  f'| setting | {full} | verdict | mean over combinations '
                  '| verdict |', '| --- | --- | --- | --- | --- |']
        for setting, cmp in res['vs_baseline'].items():
            cells = []
            for key in ('full', 'mean'):
                c = cmp[key]
                if c['difference'] is None:
                    cells += ['-', c['verdict']]
                    continue
                spread = '' if c['difference_std'] is None else \
                    f' ± {c["difference_std"]:.2f}'
                cells += [f'{c["difference"]:+.2f}{spread}', c['verdict']]
            lines.append(f'| {setting} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def plot_levels(results: dict, metric: str, noisy: Sequence[str],
                levels: Sequence[int], full: str, out: str,
                title: Optional[str]) -> str:
    """Metric against level: one panel per noisy modality."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(noisy), figsize=(4.2 * len(noisy), 3.6),
                             layout='constrained', squeeze=False)
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, m in zip(axes[0], noisy):
        others = '+'.join(n for n in full.split('+') if n != m)
        for j, (label, res) in enumerate(results.items()):
            for combo, style, name in (
                    (full, '-', full), ('mean', '--', 'mean'),
                    (others, ':', 'the clean modalities alone')):
                if combo not in res['settings'][CLEAN]['summary']:
                    continue
                pts = [res['settings'][CLEAN if lvl == 1 else f'{m}@{lvl}']
                       ['summary'][combo] for lvl in levels]
                ax.errorbar(levels, [p['mean'] for p in pts],
                            yerr=[p['std'] or 0.0 for p in pts],
                            color=colours[j % len(colours)], ls=style,
                            marker='o', ms=3, capsize=3,
                            label=f'{label}, {name}')
        ax.set_xticks(levels)
        ax.set_xlabel(f'noise level on {m} (1 = clean)')
        ax.set_ylabel(metric)
        ax.set_title(f'{m} noisy, others clean\n(dotted: {others} alone)'
                     if others else f'{m} noisy', fontsize=9)
        ax.spines[['top', 'right']].set_visible(False)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc='outside right upper', fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=150, format='png')
    plt.close(fig)
    return out


def main(argv=None):
    args = parse_args(argv)
    import mm_incomplete  # noqa: F401  registers everything
    from mm_incomplete.utils.launch import load_config
    methods = {}
    for label, *items in args.method:
        if label in methods:
            raise SystemExit(f'[noise_sweep] --method {label!r} given twice')
        methods[label] = load_runs(label, items)
    baseline = args.baseline or next(iter(methods))
    if baseline not in methods:
        raise SystemExit(f'[noise_sweep] --baseline {baseline!r} is not one '
                         f'of {list(methods)}')
    cfgs = {f'{label} seed {r["seed"]}': load_config(r['config'])
            for label, runs in methods.items() for r in runs}
    max_level, relative = noise_options(cfgs, args.max_level, args.relative)
    if max(args.levels) > max_level:
        raise SystemExit(f'[noise_sweep] --levels {args.levels} exceed '
                         f'max_level {max_level}')
    first = next(iter(methods.values()))[0]
    metric = args.metric or compare_seeds._default_metric(first['config'])
    layout = cfgs[next(iter(cfgs))].get('modalities')
    from mm_incomplete.modality import ModalityLayout
    names = ModalityLayout(layout, 'modalities').names
    noisy = args.noisy or list(names)
    unknown = [m for m in noisy if m not in names]
    if unknown:
        raise SystemExit(f'[noise_sweep] --noisy {unknown} are not in the '
                         f'layout {list(names)}')
    full = '+'.join(names)
    out = args.out
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    command = 'python tools/analysis/noise_sweep.py ' + ' '.join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    plan = settings(noisy, args.levels)
    steps = {setting: None if modality is None else noise_step(
        modality, level, max_level, relative, args.noise_seed)
        for setting, modality, level in plan}
    results = {}
    for label, runs in methods.items():
        records = {}
        for run in runs:
            wd = osp.join(args.work_dir, compare_seeds.config_name(
                run['config']), f'seed{run["seed"]}')
            records[run['seed']] = evaluate_run(run, steps, wd)
            check_clean(label, run, records[run['seed']][CLEAN], metric,
                        args.tolerance)
        per_setting = {}
        for setting in steps:
            res = summarise_setting(
                [(seed, recs[setting]) for seed, recs in records.items()],
                metric, label)
            res.update(seeds=list(records), noise=steps[setting])
            per_setting[setting] = res
        results[label] = dict(seeds=[r['seed'] for r in runs],
                              configs=sorted({r['config'] for r in runs}),
                              runs=[r['source'] for r in runs],
                              settings=per_setting)
    for label, res in results.items():
        if label != baseline:
            res['vs_baseline'] = {
                s: compare_setting(dict(res['settings'][s]),
                                   results[baseline]['settings'][s], full)
                for s, _, _ in plan}

    noise_desc = (f'Noise: {NOISE}(fixed_levels={{m: l}}, max_level='
                  f'{max_level}, relative_modalities={list(relative)}), '
                  f'seed {args.noise_seed}, in the test pipeline where '
                  'training has it (before padding / packing, on raw '
                  'values); l = 1 leaves a modality untouched, so the '
                  'l = 1 column is the clean test set.')
    md = markdown(results, metric, noisy, args.levels, baseline, full,
                  noise_desc, command)
    with open(out + '.md', 'w') as f:
        f.write(md)
    with open(out + '.json', 'w') as f:
        json.dump(dict(command=command, metric=metric, levels=args.levels,
                       noisy=noisy, max_level=max_level,
                       relative_modalities=list(relative),
                       noise_seed=args.noise_seed, baseline=baseline,
                       full_combination=full,
                       std='sample std over seeds (ddof=1)',
                       methods=results), f, indent=2)
        f.write('\n')
    plot_levels(results, metric, noisy, args.levels, full, out + '.png',
                args.title)
    clean = {label: res['settings'][CLEAN] for label, res in results.items()}
    compare_seeds.plot(clean, metric, out + '_clean.png',
                       f'{metric}, clean test set')
    print(f'\n{md}\n[noise_sweep] wrote {out}.md, {out}.json, {out}.png, '
          f'{out}_clean.png', flush=True)
    return results


if __name__ == '__main__':
    main()
