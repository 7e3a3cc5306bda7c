"""Helpers for backbones that take a modality mask.

Shorthand: B batch, M modalities, N rows kept.
"""
from typing import Optional

import torch

from mm_incomplete.modality import ModalityLayout


def check_modality_mask(mask: Optional[torch.Tensor], batch_size: int,
                        layout: ModalityLayout,
                        device=None) -> torch.Tensor:
    """Validate a (B, M) modality mask; ``None`` means every modality.

    Raises a ValueError naming the layout when the shape is wrong or a sample
    keeps no modality. Returns a bool tensor on ``device``.
    """
    num = len(layout)
    if mask is None:
        return torch.ones(batch_size, num, dtype=torch.bool, device=device)
    if mask.shape != (batch_size, num):
        raise ValueError(
            f'modality mask must be (B={batch_size}, M={num}) for '
            f'{layout!r}, got {tuple(mask.shape)}')
    mask = mask.to(device=device, dtype=torch.bool)
    empty = (~mask.any(1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f'modality mask keeps no modality of {layout!r} for '
                         f'samples {empty}')
    return mask


def scatter_rows(x: torch.Tensor, rows: torch.Tensor,
                 batch_size: int) -> torch.Tensor:
    """Place x (N, ...) at the True positions of ``rows`` (B,) bool in a
    zero tensor (B, ...); gradients flow back to ``x``."""
    out = x.new_zeros((batch_size, ) + tuple(x.shape[1:]))
    out[rows] = x
    return out
