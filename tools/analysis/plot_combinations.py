"""Grouped bar chart of one metric per modality combination.

Shorthand: K combinations (plus the mean), R result files (methods).

Reads the ``combination_metrics_*.json`` files written by
``MultiCombinationValLoop`` / ``MultiCombinationTestLoop`` and draws one group
of bars per combination (the mean last), one bar per file, each bar annotated
with its value::

    python tools/analysis/plot_combinations.py \\
        work_dirs/moddrop/20250101_000000/combination_metrics_test.json \\
        work_dirs/dmrnet/20250101_000000/combination_metrics_test.json \\
        --labels ModDrop DMRNet --metric mIoU --out combinations.png

Combinations missing from a file leave a gap in its bars. The mean of each
file is its own mean over the combinations it evaluated; a warning is printed
where the files evaluated different combinations.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mm_incomplete.evaluation.combination_metrics import (  # noqa: E402
    MEAN, load_record, metric_values)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Bar chart of a metric for every modality combination, '
        'one bar per result file')
    parser.add_argument('results', nargs='+',
                        help='combination_metrics_*.json files')
    parser.add_argument('--out', required=True, help='output PNG path')
    parser.add_argument('--metric', default='mIoU',
                        help='metric key as the host reports it, e.g. mIoU, '
                        'aAcc, accuracy/top1 (default: mIoU)')
    parser.add_argument('--labels', nargs='+',
                        help='one legend label per result file (default: '
                        'the model / experiment name in each file)')
    parser.add_argument('--title', help='figure title')
    parser.add_argument('--dpi', type=int, default=150)
    return parser.parse_args(argv)


def _default_label(record: dict, path: str) -> str:
    for key in ('experiment', 'model'):
        if record.get(key):
            return str(record[key])
    return osp.splitext(osp.basename(path))[0]


def collect(paths: Sequence[str], metric: str,
            labels: Optional[Sequence[str]] = None):
    """Read the files; returns (combination order, {label: {combo: value}}).

    Raises:
        FileNotFoundError / ValueError / KeyError: naming the bad file, the
            missing metric and the available ones.
    """
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f'--labels gives {len(labels)} labels for '
                         f'{len(paths)} result files')
    order: List[str] = []
    series: Dict[str, Dict[str, float]] = {}
    combo_sets = []
    for i, path in enumerate(paths):
        record = load_record(path)
        values = metric_values(record, metric, path)
        label = labels[i] if labels else _default_label(record, path)
        if label in series:
            label = f'{label} ({i + 1})'
        series[label] = values
        combo_sets.append(tuple(record['combinations']))
        order.extend(c for c in record['combinations'] if c not in order)
    if len(set(map(frozenset, combo_sets))) > 1:
        print('warning: the result files evaluated different combinations; '
              'their means are not over the same set', file=sys.stderr)
    return order + [MEAN], series


def draw(order: Sequence[str], series: Dict[str, Dict[str, float]],
         metric: str, title: Optional[str] = None):
    """The figure: grouped bars, value labels, the legend outside the axes.

    The legend sits to the right of the axes (constrained layout makes room
    for it), so it can never cover a bar or a value label.
    """
    n_groups, n_bars = len(order), len(series)
    width = 0.8 / n_bars
    fig_w = max(4.0, 0.9 + n_groups * (0.35 + 0.45 * n_bars))
    if n_bars > 1:
        fig_w += 0.4 + 0.07 * max(len(label) for label in series)
    fig, ax = plt.subplots(figsize=(fig_w, 3.8), layout='constrained')
    top = max(max(v.values()) for v in series.values())
    for j, (label, values) in enumerate(series.items()):
        xs = [g + (j - (n_bars - 1) / 2) * width
              for g, name in enumerate(order) if name in values]
        ys = [values[name] for name in order if name in values]
        bars = ax.bar(xs, ys, width=width * 0.95, label=label)
        bars[-1].set_hatch('//')  # the mean
        for x, y in zip(xs, ys):
            ax.annotate(f'{y:.1f}' if abs(y) >= 10 else f'{y:.3g}',
                        (x, y), xytext=(0, 2), textcoords='offset points',
                        ha='center', va='bottom', fontsize=7)
    ax.set_xticks(range(n_groups))
    ax.set_xticklabels(order, rotation=20 if n_groups > 4 else 0)
    ax.axvline(n_groups - 1.5, color='0.6', lw=0.8, ls='--')
    ax.set_ylabel(metric)
    ax.set_xlabel('available modalities')
    ax.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.set_title(title or f'{metric} per modality combination')
    if n_bars > 1:
        fig.legend(loc='outside right upper', fontsize=8, frameon=False)
    ax.spines[['top', 'right']].set_visible(False)
    return fig


def plot(order: Sequence[str], series: Dict[str, Dict[str, float]],
         metric: str, out: str, title: Optional[str] = None,
         dpi: int = 150) -> str:
    """Draw the grouped bar chart to ``out`` (PNG) and return the path."""
    out_dir = osp.dirname(osp.abspath(out))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'--out: folder {out_dir!r} does not exist')
    fig = draw(order, series, metric, title)
    fig.savefig(out, dpi=dpi, format='png')
    plt.close(fig)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        order, series = collect(args.results, args.metric, args.labels)
        path = plot(order, series, args.metric, args.out, args.title,
                    args.dpi)
    except (FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'error: {msg}', file=sys.stderr)
        return 1
    print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
