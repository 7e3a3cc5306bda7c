"""Hold loss terms off during a warm-up, then ramp them in.

A loss module that supports warm-up exposes a float attribute ``loss_scale``
(multiplied into its loss, 1 by default): e.g. every method loss
(:class:`~mm_incomplete.models.methods.BaseMethodLoss`),
:class:`~mm_incomplete.models.losses.GaussianKLLoss` and the
``CombinationRegularizer*Head`` wrappers. A named container without the
attribute (``method_losses``, a ``ModuleDict``) stands for its children.
Before every training iteration this hook sets the attribute of the named
submodules from the current position, so nothing needs to be saved in
checkpoints: a resumed run gets the right scale on its first iteration.

    scale = 0                               before ``begin``
          = (pos - begin + 1) / (end - begin)  in [begin, end) if ``end``
          = 1                               from ``end`` (or ``begin``) on
"""
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop


@HOOKS.register_module()
class LossScaleWarmupHook(Hook):
    """Set ``loss_scale`` of chosen submodules from a warm-up schedule.

    Args:
        modules (list[str]): dotted names of submodules of the model (the
            wrapped model for DDP), e.g. ``['auxiliary_head', 'kl_loss']``;
            each must have a ``loss_scale`` attribute.
        begin (int): first iteration (epoch) with a non-zero scale, 0-based.
            DMRNet on NYUDv2 starts its regularizers at epoch 11 of 300.
        end (int, optional): end of a linear ramp; ``None`` for a step to 1
            at ``begin``.
        by_epoch (bool): count epochs instead of iterations.

    Example:
        >>> custom_hooks = [dict(type='LossScaleWarmupHook',
        ...                      modules=['method_losses'], begin=1100)]
        >>> LossScaleWarmupHook(['kl_loss'], begin=10, end=20).scale_at(14)
        0.5
    """

    priority = 'NORMAL'

    def __init__(self, modules: Sequence[str], begin: int = 0,
                 end: Optional[int] = None, by_epoch: bool = False):
        if isinstance(modules, str) or not modules:
            raise ValueError('LossScaleWarmupHook: `modules` must be a '
                             'non-empty list of submodule names, got '
                             f'{modules!r}')
        if begin < 0 or (end is not None and end <= begin):
            raise ValueError('LossScaleWarmupHook needs 0 <= `begin` < `end`'
                             f', got begin={begin}, end={end}')
        self.modules = list(modules)
        self.begin, self.end, self.by_epoch = int(begin), end, by_epoch

    def scale_at(self, pos: int) -> float:
        """The scale at iteration (epoch) ``pos``."""
        if pos < self.begin:
            return 0.0
        if self.end is None or pos >= self.end:
            return 1.0
        return (pos - self.begin + 1) / (self.end - self.begin)

    def _targets(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        targets = []
        for name in self.modules:
            try:
                module = model.get_submodule(name)
            except AttributeError:
                hint = ''
                if name in ('auxiliary_head', 'kl_loss', 'aux_head') and \
                        hasattr(model, 'method_losses'):
                    hint = ('; method plug-ins (DMRNet\'s regularizer and KL '
                            "term) live in 'method_losses'")
                raise KeyError(
                    f'LossScaleWarmupHook: the model '
                    f'({type(model).__name__}) has no submodule {name!r} '
                    f'(option `modules`){hint}') from None
            if hasattr(module, 'loss_scale'):
                targets.append(module)
                continue
            children = list(module.children()) if isinstance(
                module, (nn.ModuleList, nn.ModuleDict)) else []
            if not children or not all(
                    hasattr(c, 'loss_scale') for c in children):
                raise TypeError(
                    f'LossScaleWarmupHook: submodule {name!r} '
                    f'({type(module).__name__}) has no `loss_scale` '
                    'attribute to warm up, nor is it a non-empty container '
                    'of modules that have one (option `modules`)')
            targets.extend(children)
        return targets

    def before_train(self, runner) -> None:
        if self.by_epoch and not isinstance(runner.train_loop,
                                            EpochBasedTrainLoop):
            raise ValueError('LossScaleWarmupHook: `by_epoch=True` needs an '
                             'epoch-based train loop')
        self._apply(runner)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._apply(runner)

    def _apply(self, runner) -> None:
        scale = self.scale_at(runner.epoch if self.by_epoch else runner.iter)
        for module in self._targets(runner):
            module.loss_scale = scale

