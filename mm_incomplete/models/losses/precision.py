"""fp32 islands for losses under mixed precision (autocast bf16 / fp16).

Shapes: any; bf16 / fp16 tensors of any shape are cast to float32.

``.float()`` alone is not enough inside ``torch.autocast``: autocast casts
the inputs of every matmul / conv back to the reduced dtype, so a Gram matrix
or a similarity computed from ``.float()`` tensors is still bf16. The
decorator below turns autocast off for the wrapped function and casts its
bf16 / fp16 tensor arguments to fp32 (fp32 and fp64 stay as they are); gradients flow back to the reduced-
precision inputs through the casts.
"""
import contextlib
import functools
from typing import Callable

import torch


_REDUCED = (torch.float16, torch.bfloat16)


def _to_fp32(x):
    if isinstance(x, torch.Tensor) and x.dtype in _REDUCED:
        return x.float()
    return x


def fp32_loss(fn: Callable) -> Callable:
    """Run ``fn`` in float32 with autocast off (CPU and CUDA).

    Args:
        fn (Callable): a loss function or ``forward`` method; its bf16 /
            fp16 tensor arguments (positional and keyword) become float32.

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
            args = tuple(_to_fp32(a) for a in args)
            kwargs = {k: _to_fp32(v) for k, v in kwargs.items()}
            return fn(*args, **kwargs)

    return wrapper
