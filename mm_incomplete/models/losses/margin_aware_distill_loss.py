"""MAD: margin-aware distillation (MMANet, CVPR 2023, Sec. 3.2).

Shorthand: B batch, C channels, H x W feature size, K classes, N samples
(pixels of the whole batch in segmentation, images in classification),
S number of sample splits.

The student's feature map is taught the *relations between samples* that the
teacher's map has, and samples near the teacher's decision boundary count
most. At one feature level, with F the (N, C') matrix of samples (one row per
pixel after pooling to at most 30 x 40, or one flattened map per image)::

    split the N samples into S chunks S_1 .. S_S          (memory bound;
        chunk h = samples [h N // S, (h + 1) N // S), so two chunks
        split at N // 2 as in the paper and the official code)
    G^h   = rownorm( F F[S_h]^T )                         (N, |S_h|)
    l_i   = sum_h sum_{j in S_h} (Gs^h_ij - Gt^h_ij)^2    (N,)
    H_i   = entropy( softmax(teacher logits at sample i) )
    w_i   = H_i / sum_k H_k
    L_MAD = sum_i w_i l_i

With many samples (pixels) the loss never forms the N x N similarities:
expanding the squared distance of two normalised rows leaves quadratic forms
in C x C Gram matrices, so the cost is O(N C^2) instead of O(N^2 C) (same
values; see :func:`similarity_relation_loss_factored`). With few samples of
many dimensions (images, flattened maps) the explicit blocks are cheaper;
:func:`relation_loss` picks the cheaper one. MMH's discrepancy-aware
distillation (:class:`DiscrepancyAwareDistillLoss`) reuses these functions.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .precision import fp32_loss


def check_sample_options(samples: str, pool_size: Optional[Sequence[int]]
                         ) -> Optional[Tuple[int, int]]:
    """Validate the relation losses' ``samples`` (``'pixel'``: segmentation,
    ``'image'``: classification) and ``pool_size`` ((H, W) or None) options;
    returns ``pool_size`` as a tuple of ints."""
    if samples not in ('pixel', 'image'):
        raise ValueError("`samples` must be 'pixel' (segmentation) or "
                         f"'image' (classification), got {samples!r}")
    if pool_size is None:
        return None
    pool_size = tuple(int(s) for s in pool_size)
    if len(pool_size) != 2 or min(pool_size) < 1:
        raise ValueError('`pool_size` must be two positive ints (H, W) or '
                         f'None, got {pool_size!r}')
    return pool_size


def _pooled_size(size: Tuple[int, int],
                 pool_size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """The map size after pooling to at most ``pool_size``."""
    if pool_size is None:
        return size
    return min(size[0], pool_size[0]), min(size[1], pool_size[1])


@fp32_loss
def teacher_entropy_weights(logits_t: torch.Tensor,
                            eps: float = 1e-12) -> torch.Tensor:
    """Per-sample weights w_i: the teacher's prediction entropy, summing to 1.

    Args:
        logits_t (Tensor): (N, K) teacher logits.
        eps (float): floor of the entropy sum (all-confident teachers).

    Returns:
        Tensor: (N,) non-negative weights that sum to 1.
    """
    log_p = F.log_softmax(logits_t.float(), dim=1)
    entropy = -(log_p.exp() * log_p).sum(dim=1)
    return entropy / entropy.sum().clamp_min(eps)


def sample_splits(n: int, num_splits: int, device=None):
    """The S reference chunks of N samples: chunk h holds the indices
    ``[h * N // S, (h + 1) * N // S)``.

    With S = 2 the first chunk ends at N // 2, the split of MMANet's paper
    and official code (an odd N puts the extra sample in the second chunk;
    ``torch.chunk`` would put it in the first). Empty chunks (N < S) are
    left out.

    Example:
        >>> [c.tolist() for c in sample_splits(5, 2)]
        [[0, 1], [2, 3, 4]]
    """
    bounds = [h * n // num_splits for h in range(num_splits + 1)]
    return [torch.arange(lo, hi, device=device)
            for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


@fp32_loss
def similarity_relation_loss(feat_s: torch.Tensor, feat_t: torch.Tensor,
                             num_splits: int = 2,
                             pair_mask: Optional[torch.Tensor] = None
                             ) -> torch.Tensor:
    """Per-sample relation loss l_i of MAD, by its definition.

    Builds the (N, N/S) similarity blocks explicitly: O(N^2 C) time, O(N^2)
    memory. :func:`similarity_relation_loss_factored` gives the same values
    (without ``pair_mask``) in O(N C^2); this one is the reference it is
    tested against, and the cheaper one for few samples of many dimensions.

    Args:
        feat_s (Tensor): (N, D) student samples.
        feat_t (Tensor): (N, D') teacher samples (D' may differ from D).
        num_splits (int): S, the number of chunks the N reference samples
            are split into (see :func:`sample_splits`); each chunk's
            similarities are row-normalised on their own, as in the official
            code.
        pair_mask (Tensor, optional): (N, N) bool; only the pairs (i, j)
            where it is True count in l_i (each row is still normalised over
            every j of its split), e.g. the teacher's k nearest neighbours
            of sample i. ``None``: every pair.

    Returns:
        Tensor: (N,) l_i.
    """
    n = feat_s.shape[0]
    if pair_mask is not None and tuple(pair_mask.shape) != (n, n):
        raise ValueError(f'pair_mask must be ({n}, {n}) for {n} samples, '
                         f'got {tuple(pair_mask.shape)}')
    loss = feat_s.new_zeros(n)
    for idx in sample_splits(n, num_splits, feat_s.device):
        g_s = F.normalize(feat_s @ feat_s[idx].t(), p=2, dim=1)
        g_t = F.normalize(feat_t @ feat_t[idx].t(), p=2, dim=1)
        sq = (g_s - g_t).pow(2)
        if pair_mask is not None:
            sq = sq * pair_mask[:, idx].to(sq.dtype)
        loss = loss + sq.sum(dim=1)
    return loss


@fp32_loss
def similarity_relation_loss_factored(feat_s: torch.Tensor,
                                      feat_t: torch.Tensor,
                                      num_splits: int = 2,
                                      eps: float = 1e-12) -> torch.Tensor:
    """l_i of MAD without the N x N similarities (same values).

    With a_i = F_s[S_h] f_i and b_i = F_t[S_h] g_i (row i of the two
    similarity blocks), the row-normalised distance is

        |a_i/|a_i| - b_i/|b_i||^2 = |a_i|^2/n_a^2 + |b_i|^2/n_b^2
                                    - 2 a_i.b_i / (n_a n_b),

    n = max(|.|, eps) as in ``F.normalize``, and every term is a quadratic
    form in C x C matrices: |a_i|^2 = f_i^T (F_s[S]^T F_s[S]) f_i,
    a_i.b_i = f_i^T (F_s[S]^T F_t[S]) g_i. Time O(N C^2), memory O(N C).

    Args:
        feat_s (Tensor): (N, D) student samples.
        feat_t (Tensor): (N, D') teacher samples.
        num_splits (int): S, as in :func:`similarity_relation_loss`.
        eps (float): the norm floor of ``F.normalize``.

    Returns:
        Tensor: (N,) l_i.
    """
    n = feat_s.shape[0]
    loss = feat_s.new_zeros(n)
    for idx in sample_splits(n, num_splits, feat_s.device):
        ref_s, ref_t = feat_s[idx], feat_t[idx]
        gram_ss = ref_s.t() @ ref_s  # (D, D)
        gram_tt = ref_t.t() @ ref_t  # (D', D')
        gram_st = ref_s.t() @ ref_t  # (D, D')
        sq_a = ((feat_s @ gram_ss) * feat_s).sum(1).clamp_min(0)
        sq_b = ((feat_t @ gram_tt) * feat_t).sum(1).clamp_min(0)
        dot = ((feat_s @ gram_st) * feat_t).sum(1)
        norm_a = sq_a.sqrt().clamp_min(eps)
        norm_b = sq_b.sqrt().clamp_min(eps)
        loss = loss + (sq_a / norm_a.pow(2) + sq_b / norm_b.pow(2) -
                       2 * dot / (norm_a * norm_b)).clamp_min(0)
    return loss


def relation_loss(feat_s: torch.Tensor, feat_t: torch.Tensor,
                  num_splits: int = 1) -> torch.Tensor:
    """l_i by whichever of the two equal computations is cheaper.

    The explicit similarity blocks cost about N^2 (D + D') multiply-adds,
    the factored form N (D + D')^2: pixel samples (N large, C small) take
    the factored form, image samples (N a batch, D a flattened map) the
    explicit one, whose memory is then O(N^2) instead of O(D^2).

    Args:
        feat_s (Tensor): (N, D) student samples.
        feat_t (Tensor): (N, D') teacher samples.
        num_splits (int): S, as in :func:`similarity_relation_loss`.

    Returns:
        Tensor: (N,) l_i.
    """
    if feat_s.shape[0] <= feat_s.shape[1] + feat_t.shape[1]:
        return similarity_relation_loss(feat_s, feat_t, num_splits)
    return similarity_relation_loss_factored(feat_s, feat_t, num_splits)


def pixel_samples(maps: Sequence[torch.Tensor],
                  pool_size: Optional[Tuple[int, int]]
                  ) -> Tuple[torch.Tensor, ...]:
    """(B, C_k, H, W) maps -> (B*h*w, C_k) rows, one per pixel.

    Maps larger than ``pool_size`` are first average-pooled to at most that
    size. Every map must have the batch and size of the first.

    Args:
        maps (Sequence[Tensor]): (B, C_k, H, W) maps of one size.
        pool_size (tuple[int, int] | None): the largest (h, w) kept;
            ``None`` keeps the size.

    Returns:
        tuple[Tensor]: one (B*h*w, C_k) per map, pixels in (b, y, x) order.
    """
    ref = maps[0]
    for m in maps:
        if m.dim() != 4 or m.shape[0] != ref.shape[0] or \
                m.shape[2:] != ref.shape[2:]:
            raise ValueError('pixel samples need (B, C, H, W) maps of one '
                             f'batch and size, got {tuple(ref.shape)} and '
                             f'{tuple(m.shape)}')
    size = _pooled_size(tuple(ref.shape[2:]), pool_size)
    out = []
    for m in maps:
        if size != tuple(m.shape[2:]):
            m = F.adaptive_avg_pool2d(m, size)
        out.append(m.flatten(2).transpose(1, 2).flatten(0, 1))
    return tuple(out)


@MODELS.register_module()
class MarginAwareDistillLoss(nn.Module):
    """Margin-aware distillation loss (MAD) of MMANet.

    Args:
        samples (str): what a sample is. ``'pixel'`` (segmentation): every
            pixel of every image after pooling, its C channels the features;
            ``'image'`` (classification): every image, its flattened map the
            features.
        pool_size (tuple[int, int] | None): in ``'pixel'`` mode, maps larger
            than this are average-pooled down to at most this size (the
            paper's 30 x 40). ``None`` keeps the full size.
        num_splits (int): S, reference-sample chunks (2 in the official
            segmentation code, 1 in its classification code).
        loss_weight (float): multiplies the loss.

    Example:
        >>> loss = MarginAwareDistillLoss(samples='pixel', pool_size=(2, 2))
        >>> feat_s, feat_t = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
        >>> logits_t = torch.randn(2, 5, 8, 8)
        >>> loss(feat_s, feat_t, logits_t).shape
        torch.Size([])
    """

    def __init__(self,
                 samples: str = 'pixel',
                 pool_size: Optional[Sequence[int]] = (30, 40),
                 num_splits: int = 2,
                 loss_weight: float = 1.0):
        super().__init__()
        pool_size = check_sample_options(samples, pool_size)
        if int(num_splits) < 1:
            raise ValueError(f'`num_splits` must be >= 1, got {num_splits}')
        self.samples = samples
        self.pool_size = pool_size
        self.num_splits = int(num_splits)
        self.loss_weight = float(loss_weight)

    def _pixel_samples(self, feat_s, feat_t, logits_t):
        if feat_s.dim() != 4 or feat_t.dim() != 4 or logits_t.dim() != 4:
            raise ValueError(
                "MAD with samples='pixel' needs (B, C, H, W) features and "
                f'(B, K, H, W) logits, got {tuple(feat_s.shape)}, '
                f'{tuple(feat_t.shape)}, {tuple(logits_t.shape)}')
        if feat_s.shape[2:] != feat_t.shape[2:]:
            raise ValueError('student and teacher maps differ in size: '
                             f'{tuple(feat_s.shape)} vs {tuple(feat_t.shape)}')
        size = _pooled_size(tuple(feat_s.shape[2:]), self.pool_size)
        # (B, C, h, w) -> (B*h*w, C): one row per pixel
        f_s, f_t = pixel_samples((feat_s, feat_t), self.pool_size)
        logits, = pixel_samples((F.adaptive_avg_pool2d(logits_t, size), ),
                                None)
        return f_s, f_t, logits

    @fp32_loss
    def forward(self, feat_s: torch.Tensor, feat_t: torch.Tensor,
                logits_t: torch.Tensor) -> torch.Tensor:
        """Compute L_MAD.

        Args:
            feat_s (Tensor): student features, (B, C, H, W) (or (B, ...) with
                ``samples='image'``).
            feat_t (Tensor): teacher features of the same layout; no
                gradient flows into it.
            logits_t (Tensor): teacher logits, (B, K, H_l, W_l) in pixel mode
                (pooled to the feature size), (B, K) in image mode.

        Returns:
            Tensor: the weighted scalar loss.
        """
        feat_t = feat_t.detach()
        logits_t = logits_t.detach()
        if self.samples == 'pixel':
            f_s, f_t, logits = self._pixel_samples(feat_s, feat_t, logits_t)
        else:
            if logits_t.dim() != 2 or logits_t.shape[0] != feat_s.shape[0]:
                raise ValueError(
                    "MAD with samples='image' needs (B, K) teacher logits "
                    f'for {feat_s.shape[0]} images, got '
                    f'{tuple(logits_t.shape)}')
            f_s, f_t, logits = feat_s.flatten(1), feat_t.flatten(1), logits_t
        if f_s.shape[0] != f_t.shape[0]:
            raise ValueError(f'{f_s.shape[0]} student samples but '
                             f'{f_t.shape[0]} teacher samples')
        per_sample = relation_loss(f_s.float(), f_t.float(),
                                   self.num_splits)
        weights = teacher_entropy_weights(logits)
        return self.loss_weight * (weights * per_sample).sum()
