"""Helpers for backbones that take a modality mask.

Shorthand: B batch, M modalities, N rows kept.
"""
from typing import Optional

import torch

from mm_incomplete.modality import ModalityLayout


def host_modality_mask(mask: Optional[torch.Tensor], batch_size: int,
                       layout: ModalityLayout) -> torch.Tensor:
    """Validate a (B, M) modality mask and return it on the CPU.

    ``None`` means every modality. Raises a ValueError naming the layout
    when the shape is wrong or a sample keeps no modality. A mask on the CPU
    costs nothing here; one on an accelerator is copied to the host (a
    synchronisation), so callers on the training path pass the host copy
    (see ``MultiModalModelMixin.batch_masks``).
    """
    num = len(layout)
    if mask is None:
        return torch.ones(batch_size, num, dtype=torch.bool)
    if tuple(mask.shape) != (batch_size, num):
        raise ValueError(
            f'modality mask must be (B={batch_size}, M={num}) for '
            f'{layout!r}, got {tuple(mask.shape)}')
    mask = mask.to(device='cpu', dtype=torch.bool)
    empty = (~mask.any(1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f'modality mask keeps no modality of {layout!r} for '
                         f'samples {empty}')
    return mask


def check_modality_mask(mask: Optional[torch.Tensor], batch_size: int,
                        layout: ModalityLayout,
                        device=None) -> torch.Tensor:
    """Validate a (B, M) modality mask; ``None`` means every modality.

    Raises a ValueError naming the layout when the shape is wrong or a sample
    keeps no modality. Returns a bool tensor on ``device`` (copied there
    without waiting when ``mask`` is on the host).
    """
    host = host_modality_mask(mask, batch_size, layout)
    if device is None:
        device = 'cpu' if mask is None else mask.device
    if mask is not None and mask.device == torch.device(device) and \
            mask.dtype == torch.bool:
        return mask
    return host.to(device, non_blocking=True)


def scatter_rows(x: torch.Tensor, rows: torch.Tensor,
                 batch_size: int) -> torch.Tensor:
    """Place x (N, ...) at the True positions of ``rows`` (B,) bool (or at
    the (N,) long indices ``rows``) in a zero tensor (B, ...); gradients flow
    back to ``x``."""
    out = x.new_zeros((batch_size, ) + tuple(x.shape[1:]))
    out[rows] = x
    return out
