from .decisions import (FUSION_HEAD, BaseDecision, CertaintyWeightedDecision,
                        LearnedWeightsDecision, MeanDecision,
                        PredictiveEntropy, SumDecision,
                        UncertaintyWeightedDecision, masked_softmax)
from .late_fusion_head import LateFusionHead

__all__ = [
    'FUSION_HEAD', 'BaseDecision', 'MeanDecision', 'SumDecision',
    'LearnedWeightsDecision', 'CertaintyWeightedDecision',
    'UncertaintyWeightedDecision', 'PredictiveEntropy', 'masked_softmax',
    'LateFusionHead'
]
