"""fp32 islands for losses under mixed precision (autocast bf16 / fp16).

Shapes: any; bf16 / fp16 tensors of any shape are cast to float32.

``.float()`` alone is not enough inside ``torch.autocast``: autocast casts
the inputs of every matmul / conv back to the reduced dtype, so a Gram matrix
or a similarity computed from ``.float()`` tensors is still bf16. The
decorator below turns autocast off for the wrapped function and casts its
bf16 / fp16 tensor arguments to fp32, also inside lists, tuples and dicts
(fp32 and fp64 stay as they are; other objects, e.g. a classifier module,
are passed unchanged); gradients flow back to the reduced-precision inputs
through the casts.

Every loss of this package that compares distributions, similarities,
kernels or entropies goes through it: logit / feature KD, the Gaussian KLs
(DMRNet, UDML), MAD, MMH's RAD and DAD, the MMD / JMMD of one-stage
distillation, the CTN reconstruction error, DI-MML's DUC and UDML's
estimator MSE (``tests/test_models/test_losses/test_precision.py``).
"""
import contextlib
import functools
from typing import Callable

import torch
from torch.utils._pytree import tree_map


_REDUCED = (torch.float16, torch.bfloat16)


def _to_fp32(x):
    if isinstance(x, torch.Tensor) and x.dtype in _REDUCED:
        return x.float()
    return x


def fp32_loss(fn: Callable) -> Callable:
    """Run ``fn`` in float32 with autocast off (CPU and CUDA).

    Args:
        fn (Callable): a loss function or ``forward`` method; its bf16 /
            fp16 tensor arguments (positional and keyword, also inside
            lists, tuples and dicts) become float32.

    Example:
        >>> import torch
        >>> @fp32_loss
        ... def gram(x):
        ...     return x @ x.t()
        >>> with torch.autocast('cpu', dtype=torch.bfloat16):
        ...     gram(torch.ones(2, 3, dtype=torch.bfloat16)).dtype
        torch.float32
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.autocast('cpu', enabled=False))
            if torch.cuda.is_available():
                stack.enter_context(torch.autocast('cuda', enabled=False))
            args = tree_map(_to_fp32, args)
            kwargs = tree_map(_to_fp32, kwargs)
            return fn(*args, **kwargs)

    return wrapper
