"""Stop training at the first NaN or infinite loss term.

Shorthand: none (losses are scalars).

With a learning rate far too high the loss turns NaN and stays so; mmengine
goes on to the end, saves NaN weights and even marks them "best". This hook
raises at the first iteration whose loss terms (every logged value whose name
contains ``loss``) are not finite, before the checkpoint hook runs.
"""
import math

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first NaN or infinite loss term.

    Runs after every training iteration, before the checkpoint hook, so
    nothing of the broken iteration is saved; the error names the iteration
    and every non-finite term. ``MultiModalRunner`` adds it to every run.

    Example:
        >>> custom_hooks = [dict(type='NonFiniteLossHook')]
    """

    priority = 'NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not isinstance(outputs, dict):
            return
        bad = {}
        for name, value in outputs.items():
            if 'loss' not in name:
                continue
            value = float(value.detach().float().mean()) if torch.is_tensor(
                value) else float(value)
            if not math.isfinite(value):
                bad[name] = value
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1}: {terms}. '
                'Training stopped; nothing of this iteration was saved (lower '
                'the learning rate or check the inputs)')
