from .decisions import (BaseDecision, CertaintyWeightedDecision,
                        LearnedWeightsDecision, MeanDecision,
                        PredictiveEntropy, UncertaintyWeightedDecision,
                        masked_softmax)
from .late_fusion_head import LateFusionHead

__all__ = [
    'BaseDecision', 'MeanDecision', 'LearnedWeightsDecision',
    'CertaintyWeightedDecision', 'UncertaintyWeightedDecision',
    'PredictiveEntropy', 'masked_softmax', 'LateFusionHead'
]
