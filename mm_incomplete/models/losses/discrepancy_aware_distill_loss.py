"""DAD: discrepancy-aware distillation (MMH, IEEE TMM 2024).

Shorthand: B batch, C channels, h x w map size, N samples (images in
classification, pixels of the whole batch in segmentation), D features per
sample, k neighbours.

The student mimics the teacher's inter-sample similarities at a feature
level (the similarity-preserving loss of Tung & Mori, ICCV 2019, as in the
official code)::

    F       (N, D) one row per sample (a flattened map per image, or the C
            channels of a pixel after pooling to at most 30 x 40)
    G       = rownorm(F F^T)                         (N, N)
    L_DAD   = 1/N^2 sum_i sum_j (Gs_ij - Gt_ij)^2     (global)
    L_DAD   = 1/(N k) sum_i sum_{j in kNN_t(i)} (Gs_ij - Gt_ij)^2   (local)

kNN_t(i) are the k samples nearest to i (itself included) in the teacher's
feature space (Euclidean); rows are still normalised over all N samples, so
k = N is the global loss. The relation terms are MMANet's MAD machinery
(``margin_aware_distill_loss``) with one split and uniform weights.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .margin_aware_distill_loss import (check_sample_options, pixel_samples,
                                        relation_loss,
                                        similarity_relation_loss)
from .precision import fp32_loss


def teacher_knn_mask(feat_t: torch.Tensor, k: int) -> torch.Tensor:
    """(N, N) bool: True where j is among the k nearest samples of i.

    Args:
        feat_t (Tensor): (N, D) teacher samples.
        k (int): neighbours per sample, the sample itself included.

    Returns:
        Tensor: (N, N) bool with k True entries per row.
    """
    n = feat_t.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f'`knn`={k} must lie in [1, N] for N={n} samples')
    dist = torch.cdist(feat_t.float(), feat_t.float())
    # a sample is its own nearest neighbour, whatever the rounding of cdist
    dist.fill_diagonal_(-1.0)
    idx = dist.topk(k, dim=1, largest=False).indices
    mask = torch.zeros(n, n, dtype=torch.bool, device=feat_t.device)
    return mask.scatter_(1, idx, True)


@MODELS.register_module()
class DiscrepancyAwareDistillLoss(nn.Module):
    """Discrepancy-aware distillation (DAD) of MMH.

    Args:
        samples (str): ``'image'`` (classification: each image's flattened
            map is a sample) or ``'pixel'`` (segmentation: each pixel of the
            batch after pooling is a sample, its channels the features).
        pool_size (tuple[int, int] | None): in ``'pixel'`` mode, maps
            larger than this are average-pooled to at most this size (as
            MAD: 30 x 40). ``None`` keeps the size.
        knn (int, optional): k of the local variant; ``None`` (default, as
            the official code) compares every pair. A batch of fewer
            than k samples uses all of them. Needs the (N, N) similarities
            explicitly: O(N^2) memory.
        loss_weight (float): weight (100 in the official code).

    Example:
        >>> dad = DiscrepancyAwareDistillLoss(samples='image')
        >>> f = torch.randn(4, 8, 3, 3)
        >>> float(dad(f, f))
        0.0
        >>> dad = DiscrepancyAwareDistillLoss(samples='pixel', knn=5)
        >>> dad(torch.randn(2, 8, 4, 4), torch.randn(2, 6, 4, 4)).shape
        torch.Size([])
    """

    def __init__(self,
                 samples: str = 'image',
                 pool_size: Optional[Sequence[int]] = (30, 40),
                 knn: Optional[int] = None,
                 loss_weight: float = 100.0):
        super().__init__()
        pool_size = check_sample_options(samples, pool_size)
        if knn is not None and int(knn) < 1:
            raise ValueError(f'`knn` must be a positive int or None, got '
                             f'{knn!r}')
        self.samples = samples
        self.pool_size = pool_size
        self.knn = None if knn is None else int(knn)
        self.loss_weight = float(loss_weight)

    @fp32_loss
    def forward(self, feat_s: torch.Tensor,
                feat_t: torch.Tensor) -> torch.Tensor:
        """Compute the weighted L_DAD in fp32 (pooling, neighbours,
        similarities) with autocast off.

        Args:
            feat_s (Tensor): (B, C, h, w) student map (any (B, ...) in
                ``'image'`` mode).
            feat_t (Tensor): (B, C', h, w) teacher map; channels may differ
                from the student's; no gradient flows into it.

        Returns:
            Tensor: scalar.
        """
        feat_t = feat_t.detach()
        if self.samples == 'pixel':
            f_s, f_t = pixel_samples((feat_s, feat_t), self.pool_size)
        else:
            if feat_s.shape[0] != feat_t.shape[0]:
                raise ValueError(f'{feat_s.shape[0]} student images but '
                                 f'{feat_t.shape[0]} teacher images')
            f_s, f_t = feat_s.flatten(1), feat_t.flatten(1)
        f_s, f_t = f_s.float(), f_t.float()
        n = f_s.shape[0]
        if self.knn is None:
            per_sample = relation_loss(f_s, f_t, num_splits=1)
            return self.loss_weight * per_sample.sum() / (n * n)
        k = min(self.knn, n)
        mask = teacher_knn_mask(f_t, k)
        per_sample = similarity_relation_loss(f_s, f_t, 1, pair_mask=mask)
        return self.loss_weight * per_sample.sum() / (n * k)

    def extra_repr(self) -> str:
        return (f'samples={self.samples!r}, pool_size={self.pool_size}, '
                f'knn={self.knn}, loss_weight={self.loss_weight}')
