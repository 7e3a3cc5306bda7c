"""Methods as plug-ins: losses on the record of a forward."""
from .base import BaseMethodLoss
from .combination_regularizer import (MINING_SCORES, CombinationRegularizer,
                                      embedding_variance_score)
from .probabilistic_embedding_kl import ProbabilisticEmbeddingKL
from .duc_loss import DUCLoss, discriminative_dims, duc_pair_loss
from .record import ForwardRecord
from .udml_loss import UDMLLoss, gaussian_kl, noise_levels
from .unimodal_losses import (FusionHeadLoss, SharedHeadLoss,
                              UnimodalTaskLoss)

__all__ = [
    'BaseMethodLoss', 'ForwardRecord', 'ProbabilisticEmbeddingKL',
    'CombinationRegularizer', 'MINING_SCORES', 'embedding_variance_score',
    'DUCLoss', 'discriminative_dims', 'duc_pair_loss', 'SharedHeadLoss',
    'UnimodalTaskLoss', 'FusionHeadLoss', 'UDMLLoss', 'gaussian_kl',
    'noise_levels'
]
