"""Stop training at the first NaN or infinite loss term.

Shorthand: none (losses are scalars).

With a learning rate far too high the loss turns NaN and stays so; mmengine
goes on to the end, saves NaN weights and even marks them "best". This hook
raises at the first iteration whose loss terms (every logged value whose name
contains ``loss``) are not finite, before the checkpoint hook runs. It reads
the device once per iteration (one flag for all terms); the terms' values
are read only to name the bad ones.
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
        names = [k for k in outputs if 'loss' in k]
        if not names:
            return
        values = [outputs[k] for k in names]
        device = next((v.device for v in values if torch.is_tensor(v)),
                      torch.device('cpu'))
        terms = torch.stack([
            v.detach().float().mean().to(device) if torch.is_tensor(v) else
            torch.tensor(float(v), device=device) for v in values])
        # one read of the device per iteration, not one per term
        if bool(torch.isfinite(terms).all()):
            return
        bad = {k: v for k, v in zip(names, terms.tolist())
               if not math.isfinite(v)}
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in bad.items())
            raise FloatingPointError(
                f'non-finite loss at iteration {runner.iter + 1}: {terms}. '
                'Training stopped; nothing of this iteration was saved (lower '
                'the learning rate or check the inputs)')
