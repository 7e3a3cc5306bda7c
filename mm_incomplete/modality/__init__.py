"""The modality core: layouts, combinations, masks and sampling policies."""
from .layout import Combination, ModalityLayout
from .mask import MASK_FIELD, set_modality_masks, stack_modality_masks
from .sampling import (CombinationSampler, FixedCombination, ModDrop,
                       UniformCombinations, WeightedCombinations,
                       build_sampler)

__all__ = [
    'Combination', 'ModalityLayout', 'MASK_FIELD', 'set_modality_masks',
    'stack_modality_masks', 'CombinationSampler', 'FixedCombination',
    'ModDrop', 'UniformCombinations', 'WeightedCombinations', 'build_sampler'
]
