import pytest
import torch
from mmseg.structures import SegDataSample

from mm_incomplete.modality import set_modality_masks, stack_modality_masks


def test_round_trip_and_default_full():
    samples = [SegDataSample() for _ in range(3)]
    mask = torch.tensor([[True, False], [False, True], [True, True]])
    set_modality_masks(samples[:2], mask[:2])
    out = stack_modality_masks(samples, 3, 2)
    assert torch.equal(out, mask)
    assert stack_modality_masks(None, 2, 2).all()


def test_mismatch_errors():
    samples = [SegDataSample()]
    with pytest.raises(ValueError, match='1 data samples but a mask for 2'):
        set_modality_masks(samples, torch.ones(2, 2, dtype=torch.bool))
    set_modality_masks(samples, torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match='2 modalities'):
        stack_modality_masks(samples, 1, 2)
