"""MMANet's weak-combination mining: the largest validation drop.

Shorthand: K combinations.

MMANet's modality-aware regularization (MAR) trains an auxiliary head on the
samples of the *weak* combinations only. A combination is weak when its
validation metric falls furthest below the full combination's: over a window
of validations (MMANet on NYUDv2: after epochs 7-10 of 300) the hook adds,
for every candidate combination k of every non-fixed
:class:`~mm_incomplete.models.utils.CombinationSelector` of the model,

    drop_k = metric(full) - metric(k)

read from the validation metrics (``rgb+depth/mIoU`` - ``depth/mIoU`` with
``MultiCombinationValLoop``), and after the window's last validation selects
the ``num_selected`` candidates with the largest mean drop. Only the
validation loop feeds it (``after_val_epoch``): the test split is never
read, and a config whose val and test dataloaders are the same is refused.

The running sums and the selection are persistent buffers of the selectors,
so they are saved in every checkpoint and restored on resume, inside the
window or after it.
"""
from typing import Dict, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from mm_incomplete.models.utils import CombinationSelector


def _training(runner) -> bool:
    """Whether the runner is training (a standalone ``val()`` is not)."""
    loop = getattr(runner, '_train_loop', None)
    return loop is not None and not isinstance(loop, dict)


@HOOKS.register_module()
class WeakCombinationMiningHook(Hook):
    """Mine MMANet's weak combinations from validation metrics.

    Args:
        metric (str): the metric compared across combinations, as it appears
            after ``<combination>/`` in the validation metrics: ``'mIoU'``
            (segmentation) or ``'accuracy/top1'`` (classification).
        begin (int): the window's first position: a validation after
            ``begin`` completed iterations (epochs with ``by_epoch``) counts.
        end (int): the window's last position; the weak combinations are
            selected after the validation at ``end`` (or, if none fell
            there, before the first training iteration after ``end``).
        by_epoch (bool): positions are epochs, not iterations.
        selectors (list[str], optional): dotted names of the selectors to
            mine (e.g. ``['method_losses.0.selector']``); ``None``: every
            non-fixed selector in the model.

    Example:
        >>> hook = WeakCombinationMiningHook(metric='mIoU', begin=700,
        ...                                  end=1000)
        >>> hook.drops({'rgb+depth/mIoU': 50., 'rgb/mIoU': 46.,
        ...             'depth/mIoU': 41.}, ['rgb', 'depth'], 'rgb+depth')
        {'rgb': 4.0, 'depth': 9.0}
    """

    priority = 'LOW'  # after the checkpoint hook has read the metrics

    def __init__(self,
                 metric: str = 'mIoU',
                 begin: int = 0,
                 end: Optional[int] = None,
                 by_epoch: bool = False,
                 selectors: Optional[Sequence[str]] = None):
        if end is None or not 0 <= begin <= end:
            raise ValueError('WeakCombinationMiningHook needs 0 <= `begin` '
                             f'<= `end`, got begin={begin}, end={end}')
        self.metric = metric
        self.begin, self.end, self.by_epoch = int(begin), int(end), by_epoch
        self.selector_names = None if selectors is None else list(selectors)
        self._done = False  # selection made (re-derived after a resume)

    # -- helpers --------------------------------------------------------------
    def _selectors(self, runner) -> Dict[str, CombinationSelector]:
        model = getattr(runner.model, 'module', runner.model)
        found = {name: m for name, m in model.named_modules()
                 if isinstance(m, CombinationSelector)}
        if self.selector_names is not None:
            missing = [n for n in self.selector_names if n not in found]
            if missing:
                raise KeyError(
                    f'WeakCombinationMiningHook: no selector named {missing} '
                    f'in the model (option `selectors`); found {list(found)}')
            return {n: found[n] for n in self.selector_names}
        found = {n: s for n, s in found.items() if not s.fixed}
        if not found:
            raise RuntimeError(
                'WeakCombinationMiningHook: the model has no selector to '
                'mine; give a method loss such as CombinationRegularizer '
                'with `combinations=None`')
        return found

    def _position(self, runner) -> int:
        return runner.epoch if self.by_epoch else runner.iter

    def drops(self, metrics: dict, candidates: Sequence[str],
              full: str) -> Dict[str, float]:
        """``{k: metric(full) - metric(k)}`` from a validation metrics dict.

        Args:
            metrics (dict): the validation metrics (``'<combo>/<metric>'``).
            candidates (list[str]): combination names.
            full (str): name of the full combination.
        """
        keys = [f'{name}/{self.metric}' for name in [full, *candidates]]
        missing = [k for k in keys if k not in metrics]
        if missing:
            raise KeyError(
                f'WeakCombinationMiningHook: the validation metrics lack '
                f'{missing} (option `metric`={self.metric!r}); they have '
                f'{sorted(metrics)}. Validate every combination with '
                "val_cfg=dict(type='MultiCombinationValLoop')")
        ref = float(metrics[keys[0]])
        return {name: ref - float(metrics[f'{name}/{self.metric}'])
                for name in candidates}

    # -- hook points --------------------------------------------------------
    def before_train(self, runner) -> None:
        for name, sel in self._selectors(runner).items():
            if sel.fixed:
                raise ValueError(
                    f'WeakCombinationMiningHook: `{name}` has combinations '
                    f'fixed by the config ({sel.selected_names}); set '
                    '`combinations=None` to mine them')
            if sel.rule != 'max':
                raise ValueError(
                    f'WeakCombinationMiningHook: `{name}` selects by '
                    f"rule={sel.rule!r}; the largest drop needs 'max'")
        cfg = getattr(runner, 'cfg', None) or {}
        val_cfg, test_cfg = cfg.get('val_dataloader'), \
            cfg.get('test_dataloader')
        if val_cfg is not None and test_cfg is not None and \
                val_cfg.get('dataset') == test_cfg.get('dataset'):
            raise ValueError(
                'WeakCombinationMiningHook mines on the validation split, '
                'but `val_dataloader.dataset` is the same as '
                '`test_dataloader.dataset`: give a held-out validation split')
        if getattr(runner, 'val_loop', None) is None:
            raise ValueError('WeakCombinationMiningHook needs a validation '
                             'loop (`val_dataloader`, `val_cfg`)')

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        pos = self._position(runner)
        if not metrics or not self.begin <= pos <= self.end or \
                not _training(runner):
            return
        for name, sel in self._selectors(runner).items():
            if bool(sel.selected.any()):
                continue  # already mined (e.g. resumed after the window)
            full = sel.layout.combination_name(sel.layout.full)
            drops = self.drops(metrics, sel.candidate_names, full)
            for combo, drop in drops.items():
                sel.accumulate_combination(combo, drop)
            print_log(f'{name}: validation drop from {full} at {pos}: ' +
                      ', '.join(f'{k} {v:.4g}' for k, v in drops.items()),
                      'current')
        if pos == self.end:
            self._finish(runner)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if not self.by_epoch and not self._done and runner.iter > self.end:
            self._finish(runner)

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch and not self._done and runner.epoch > self.end:
            self._finish(runner)

    def _finish(self, runner) -> None:
        self._done = True
        for name, sel in self._selectors(runner).items():
            if bool(sel.selected.any()):
                continue
            means = sel.mean_scores()
            chosen = sel.finish_mining()
            print_log(f'{name}: weak combinations {chosen} (mean validation '
                      'drop: ' + ', '.join(f'{k} {v:.4g}'
                                           for k, v in means.items()) + ')',
                      'current')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['weak_combinations'] = {
            name: sel.selected_names
            for name, sel in self._selectors(runner).items()
        }
