"""DMRNet's KL term on the probabilistic embeddings a forward recorded.

Shorthand: B batch, D embedding channels, h x w an embedded map's size.

Robust Multimodal Learning via Representation Decoupling (DMRNet, ECCV 2024)
embeds a fused feature as N(mu, sigma^2) (:class:`ProbabilisticEmbeddingNeck`,
which records ``extras['embedding_stats']``) and pulls it toward N(0, I):

    L_KL = w * sum_levels mean_n KL(N(mu_n, sigma_n^2) || N(0, I))

(n: an image in classification, a pixel in segmentation;
:func:`gaussian_kl_divergence`). The same class serves both tasks.
"""
from typing import Dict

import torch
from mmengine.registry import MODELS

from ..losses.kl_divergence import gaussian_kl_divergence
from .base import BaseMethodLoss
from .record import ForwardRecord


@MODELS.register_module()
class ProbabilisticEmbeddingKL(BaseMethodLoss):
    """KL(N(mu, sigma^2) || N(0, I)) of every recorded embedding.

    Args:
        loss_weight (float): w (DMRNet: 1e-3).
        loss_name (str): key in the loss dict; must contain ``loss``.
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> import torch
        >>> from mm_incomplete.modality import ModalityLayout
        >>> from mm_incomplete.models.necks import GaussianEmbedding
        >>> z = torch.ones(2, 3)
        >>> rec = ForwardRecord(
        ...     task='cls', layout=ModalityLayout('rgb:3'),
        ...     mask=torch.ones(2, 1, dtype=torch.bool),
        ...     host_mask=torch.ones(2, 1, dtype=torch.bool),
        ...     inputs=torch.zeros(2, 3, 4, 4),
        ...     extras=dict(embedding_stats=[
        ...         GaussianEmbedding(z, z, torch.zeros(2, 3))]))
        >>> ProbabilisticEmbeddingKL(loss_weight=1.0)(rec)
        {'loss_kl': tensor(1.5000)}
    """

    def __init__(self, loss_weight: float = 1e-3,
                 loss_name: str = 'loss_kl', init_cfg=None):
        super().__init__(loss_weight, init_cfg)
        if 'loss' not in loss_name:
            raise ValueError('`loss_name` must contain "loss" so that '
                             f'mmengine back-propagates it, got {loss_name!r}')
        self.loss_name = loss_name

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        stats = record.get('extras.embedding_stats')
        if not stats:
            raise ValueError('ProbabilisticEmbeddingKL: the forward recorded '
                             'no embedding (extras.embedding_stats is empty)')
        # one weighted term per level, then the sum (as DMRNet sums levels)
        return {self.loss_name: sum(
            self.scaled(gaussian_kl_divergence(s.mu, s.logvar).mean())
            for s in stats)}
