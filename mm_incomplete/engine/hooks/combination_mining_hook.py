"""Open and close the window in which selected combinations are mined.

Shorthand: K combinations.

The state lives in the model: every
:class:`~mm_incomplete.models.utils.CombinationSelector` keeps its selected
set and its running per-combination scores in persistent buffers, so both are
in every checkpoint and a resumed run (inside or after the window) continues
where it stopped. This hook only says *when*: it sets ``selector.mining``
during the window (the model then feeds it scores, e.g. DMRNet's mean
embedding variance per sample through
``CombinationRegularizer(mining_score='embedding_variance')``) and calls
``selector.finish_mining()`` after
the window's last iteration (or epoch), which selects the candidates with the
best mean score. The mined names are also written to the checkpoint's
``meta['selected_combinations']`` so they can be read without building the
model.
"""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from mm_incomplete.models.utils import CombinationSelector


def _named_selectors(model) -> dict:
    model = getattr(model, 'module', model)
    return {name: m for name, m in model.named_modules()
            if isinstance(m, CombinationSelector)}


@HOOKS.register_module()
class CombinationMiningHook(Hook):
    """Mine the selected combinations of the model's selectors in a window.

    Args:
        begin (int): first iteration (or epoch) of the window, 0-based.
        end (int): the window is ``[begin, end)``; the selection is made after
            iteration (epoch) ``end - 1``.
        by_epoch (bool): count epochs instead of iterations (needs an
            epoch-based train loop).
        selectors (list[str], optional): dotted names of the selectors to
            mine (e.g. ``['method_losses.0.selector']``); ``None``: every
            selector of the model whose combinations are not fixed.

    Example:
        >>> # DMRNet, CREMA-D style: mine over the first 6 epochs' worth of
        >>> # iterations, then the regularizer starts
        >>> hook = CombinationMiningHook(begin=0, end=600)
        >>> custom_hooks = [dict(type='CombinationMiningHook', begin=0,
        ...                      end=600)]
    """

    priority = 'NORMAL'

    def __init__(self, begin: int = 0, end: Optional[int] = None,
                 by_epoch: bool = False,
                 selectors: Optional[Sequence[str]] = None):
        if end is None or not 0 <= begin < end:
            raise ValueError('CombinationMiningHook needs 0 <= `begin` < '
                             f'`end`, got begin={begin}, end={end}')
        self.begin, self.end, self.by_epoch = int(begin), int(end), by_epoch
        self.selector_names = None if selectors is None else list(selectors)

    # -- helpers --------------------------------------------------------------
    def _selectors(self, runner) -> dict:
        found = _named_selectors(runner.model)
        model = getattr(runner.model, 'module', runner.model)
        if self.selector_names is not None:
            missing = [n for n in self.selector_names if n not in found]
            if missing:
                raise KeyError(
                    f'CombinationMiningHook: no selector named {missing} in '
                    f'the model (option `selectors`); found {list(found)}')
            chosen = {n: found[n] for n in self.selector_names}
            fixed = [n for n, sel in chosen.items() if sel.fixed]
            if fixed:
                raise ValueError(
                    f'CombinationMiningHook: {fixed} have their combinations '
                    'fixed by the config; set `combinations=None` there to '
                    'mine them (option `selectors`)')
            return chosen
        chosen = {n: sel for n, sel in found.items() if not sel.fixed}
        if not chosen:
            raise RuntimeError(
                f'CombinationMiningHook: the model ({type(model).__name__}) '
                'has no CombinationSelector to mine (e.g. a method loss of '
                'type CombinationRegularizer with `combinations=None`); '
                f'fixed ones: {list(found)}')
        return chosen

    def _position(self, runner) -> int:
        return runner.epoch if self.by_epoch else runner.iter

    # -- hook points --------------------------------------------------------
    def before_train(self, runner) -> None:
        self._selectors(runner)  # fails early with a clear message
        loop = runner.train_loop
        if self.by_epoch and not isinstance(loop, EpochBasedTrainLoop):
            raise ValueError('CombinationMiningHook: `by_epoch=True` needs an '
                             'epoch-based train loop')
        limit = loop.max_epochs if self.by_epoch else loop.max_iters
        if self.end > limit:
            raise ValueError(
                f'CombinationMiningHook: the window ends at {self.end} but '
                f'training stops at {limit} '
                f'{"epochs" if self.by_epoch else "iterations"}')
        if self._position(runner) >= self.end:  # resumed after the window
            for name, sel in self._selectors(runner).items():
                if not sel.selected_names:
                    print_log(f'{name}: resumed after the mining window but '
                              'no combination is selected', 'current',
                              level=30)

    def _set_mining(self, runner) -> None:
        pos = self._position(runner)
        for sel in self._selectors(runner).values():
            sel.mining = self.begin <= pos < self.end

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._set_mining(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch and runner.iter + 1 == self.end:
            self._finish(runner)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and runner.epoch + 1 == self.end:
            self._finish(runner)

    def _finish(self, runner) -> None:
        for name, sel in self._selectors(runner).items():
            scores = sel.mean_scores()
            chosen = sel.finish_mining()
            sel.mining = False
            table = ', '.join(f'{k}: {v:.4g}' for k, v in scores.items())
            print_log(f'{name}: mined combinations {chosen} (mean scores '
                      f'on this rank: {table})', 'current')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['selected_combinations'] = {
            name: sel.selected_names
            for name, sel in self._selectors(runner).items()
        }

    def after_train(self, runner) -> None:
        for sel in self._selectors(runner).values():
            sel.mining = False
