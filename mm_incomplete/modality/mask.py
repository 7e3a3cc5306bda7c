"""The per-sample modality mask that travels with the batch.

Shorthand: B batch, M modalities.

The mask is stored on each data sample as the data field ``modality_mask``, a
(M,) bool tensor in layout order. A sample without it has every modality.
"""
from typing import Optional, Sequence

import torch

MASK_FIELD = 'modality_mask'


def set_modality_masks(data_samples: Sequence, mask: torch.Tensor) -> None:
    """Write row b of a (B, M) bool ``mask`` to ``data_samples[b]``."""
    if len(data_samples) != mask.shape[0]:
        raise ValueError(f'{len(data_samples)} data samples but a mask for '
                         f'{mask.shape[0]}')
    for sample, row in zip(data_samples, mask):
        sample.set_field(row.clone(), MASK_FIELD, field_type='data')


def stack_modality_masks(data_samples: Optional[Sequence], batch_size: int,
                         num_modalities: int,
                         device=None) -> torch.Tensor:
    """(B, M) bool mask from the data samples; full where a sample has none."""
    mask = torch.ones(batch_size, num_modalities, dtype=torch.bool,
                      device=device)
    if data_samples:
        for b, sample in enumerate(data_samples):
            row = sample.get(MASK_FIELD, None)
            if row is not None:
                if row.numel() != num_modalities:
                    raise ValueError(
                        f'sample {b} has a modality mask of {row.numel()} '
                        f'entries but the model has {num_modalities} '
                        'modalities')
                mask[b] = row.to(device=mask.device, dtype=torch.bool)
    return mask
