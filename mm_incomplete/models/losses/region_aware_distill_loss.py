"""RAD: region-aware distillation (MMH, "Privileged Modality Learning via
Multimodal Hallucination", IEEE TMM 2024).

Shorthand: B batch, C channels, K classes, h x w map size, R regions (21 by
default), G grid sizes (4, 2, 1 by default).

The teacher's response is transferred region by region. A map (features in
classification, the decode head's logits in segmentation) is pooled into a
pyramid of regions; each region gets logits from the model's own classifier
and the student's region logits are pulled to the teacher's::

    P_4   = adaptive_avg_pool(map, 4 x 4)       16 regions, row-major
    P_2   = adaptive_avg_pool(P_4, 2 x 2)        4 regions (of the 4 x 4 map)
    P_1   = mean(P_4)                            1 region
    z_r   = classifier(P_r)                      (B, K) per region r
    l_r   = T^2 mean_b KL(softmax(z^t_br / T) || softmax(z^s_br / T))
    L_RAD = sum_r a_r l_r

with the region weights ``a`` (summing to 1) one of

    uniform    a_r = 1 / R
    attention  a_j = 1/R sum_i softmax_j((W_k l)_i (W_q l)_j)
               (the official code's self-attention over the loss vector,
               bias-free R x R maps W_q, W_k trained with the student)
    strength   a = softmax_r(mean_{b,c} P_r(teacher map))
               (the teacher's region strength, the paper's stated intent)

For a linear classifier, classifying a pooled feature equals pooling the
logit map, so in segmentation the decode head's logits are pooled directly.
The region losses stay in the autograd graph (the official face
anti-spoofing code rebuilt them with ``torch.tensor``, which cut RAD off
from the student).
"""
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .precision import fp32_loss

WEIGHTINGS = ('uniform', 'attention', 'strength')


def check_grids(grids: Sequence[int]) -> Tuple[int, ...]:
    """Validate a region pyramid: grid sizes, finest first, each dividing
    the finest (so a coarse region is the mean of whole fine regions)."""
    grids = tuple(int(g) for g in grids)
    if not grids or min(grids) < 1 or len(set(grids)) != len(grids) or \
            list(grids) != sorted(grids, reverse=True):
        raise ValueError('`grids` must be distinct positive grid sizes, '
                         f'finest first (e.g. (4, 2, 1)), got {grids!r}')
    if any(grids[0] % g for g in grids):
        raise ValueError(f'every grid of {grids!r} must divide the finest '
                         f'({grids[0]}), so that its regions are unions of '
                         'fine regions')
    return grids


def pyramid_regions(x: torch.Tensor,
                    grids: Sequence[int] = (4, 2, 1)) -> torch.Tensor:
    """Pool a map into its pyramid of regions.

    The finest grid is pooled from the map, every coarser one from the
    finest grid (as the official SPP module); regions are listed grid by
    grid, each grid row-major: for (4, 2, 1), regions 0-15 are the 4 x 4
    cells, 16-19 the 2 x 2 cells, 20 the whole map.

    Args:
        x (Tensor): (B, C, h, w) map, at least as large as the finest grid
            (a smaller map would repeat cells instead of splitting them).
        grids (Sequence[int]): grid sizes, finest first.

    Returns:
        Tensor: (B, C, R) with R = sum of g^2.
    """
    grids = check_grids(grids)
    if x.dim() != 4:
        raise ValueError(f'regions need a (B, C, h, w) map, got shape '
                         f'{tuple(x.shape)}')
    if min(x.shape[2:]) < grids[0]:
        raise ValueError(
            f'a {tuple(x.shape[2:])} map is smaller than the finest '
            f'{grids[0]} x {grids[0]} region grid: its regions would repeat '
            'cells; use a larger map (e.g. a smaller stride in the last '
            'stage) or finer-to-coarser `grids` that fit')
    finest = F.adaptive_avg_pool2d(x, grids[0])
    out = [finest.flatten(2)]
    for g in grids[1:]:
        out.append(F.adaptive_avg_pool2d(finest, g).flatten(2))
    return torch.cat(out, dim=2)


def classify_regions(regions: torch.Tensor,
                     classifier: Callable[[torch.Tensor], torch.Tensor]
                     ) -> torch.Tensor:
    """Apply a classifier to every region: (B, C, R) -> (B, K, R)."""
    batch, _, num = regions.shape
    logits = classifier(regions.transpose(1, 2).flatten(0, 1))  # (B*R, K)
    if logits.dim() != 2 or logits.shape[0] != batch * num:
        raise ValueError(
            f'the region classifier must map (N, C) to (N, K) logits; it '
            f'returned shape {tuple(logits.shape)} for N={batch * num}')
    return logits.view(batch, num, -1).transpose(1, 2)


def region_kl(logits_s: torch.Tensor, logits_t: torch.Tensor,
              tau: float) -> torch.Tensor:
    """Per-region soft-target loss l_r = T^2 mean_b KL(p^t_br || p^s_br).

    Args:
        logits_s (Tensor): (B, K, R) student region logits.
        logits_t (Tensor): (B, K, R) teacher region logits.
        tau (float): temperature T.

    Returns:
        Tensor: (R,) region losses, in the graph of ``logits_s``.
    """
    if logits_s.shape != logits_t.shape:
        raise ValueError(f'student region logits {tuple(logits_s.shape)} '
                         f'and teacher {tuple(logits_t.shape)} differ')
    log_p_s = F.log_softmax(logits_s.float() / tau, dim=1)
    log_p_t = F.log_softmax(logits_t.float() / tau, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)  # (B, R)
    return tau ** 2 * kl.mean(dim=0)


class RegionAttentionWeighting(nn.Module):
    """Learned region weights from the loss vector (the released attention).

    With l the (R,) region losses, q = W_q l and k = W_k l (bias-free R x R
    maps), A_ij = softmax_j(k_i q_j) and the weights are the column means
    a_j = 1/R sum_i A_ij, so that sum_j a_j l_j is the official
    ``sum(SelfAttention(l)) / R``. The weights sum to 1. The parameters are
    trained by the distillation loss, with the student.

    Args:
        num_regions (int): R.

    Example:
        >>> att = RegionAttentionWeighting(21)
        >>> a = att(torch.rand(21))
        >>> a.shape, round(float(a.sum()), 5)
        (torch.Size([21]), 1.0)
    """

    def __init__(self, num_regions: int):
        super().__init__()
        self.num_regions = int(num_regions)
        self.query = nn.Linear(self.num_regions, self.num_regions, bias=False)
        self.key = nn.Linear(self.num_regions, self.num_regions, bias=False)

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        """losses (R,) -> weights (R,) summing to 1."""
        if losses.shape != (self.num_regions, ):
            raise ValueError(f'expected ({self.num_regions},) region losses, '
                             f'got {tuple(losses.shape)}')
        q, k = self.query(losses), self.key(losses)
        attn = torch.softmax(k[:, None] * q[None, :], dim=1)  # (R, R)
        return attn.mean(dim=0)


def teacher_strength_weights(regions_t: torch.Tensor) -> torch.Tensor:
    """a = softmax_r(mean over batch and channels of the teacher's regions).

    Args:
        regions_t (Tensor): (B, C, R) the teacher's pooled regions.

    Returns:
        Tensor: (R,) weights summing to 1 (no gradient).
    """
    return torch.softmax(regions_t.detach().float().mean(dim=(0, 1)), dim=0)


@MODELS.register_module()
class RegionAwareDistillLoss(nn.Module):
    """Region-aware distillation (RAD) of MMH.

    Two ways to get region logits:

    - features + classifiers (classification): ``map_s`` / ``map_t`` are
      the (B, C, h, w) last-stage maps and ``classifier_s`` /
      ``classifier_t`` the models' own classifiers (e.g. ``head.fc``), given
      to the distiller as ``modules=dict(classifier_s='student.head.fc',
      classifier_t='teacher.head.fc')``; gradients reach the student's
      features and classifier.
    - logit maps (segmentation): ``map_s`` / ``map_t`` are (B, K, h, w)
      logits (the decode head's ``conv_seg``), pooled directly.

    Args:
        tau (float): temperature T (2 in the official code).
        grids (Sequence[int]): region grid sizes, finest first; (4, 2, 1)
            gives the 21 regions. ``(1, )`` is plain logit KD of the
            globally pooled map.
        weighting (str): ``'uniform'``, ``'attention'`` (learned, its
            parameters are this module's and reach the optimizer and the
            checkpoint through the distiller) or ``'strength'`` (the
            teacher's mean activation per region; with logit maps pass the
            teacher's feature map as ``strength_map_t``).
        loss_weight (float): lambda (0.1-0.4 in the official runs).

    Example:
        >>> rad = RegionAwareDistillLoss(weighting='attention')
        >>> fc_s, fc_t = nn.Linear(8, 3), nn.Linear(8, 3)
        >>> f_s, f_t = torch.randn(2, 8, 4, 4, requires_grad=True), \\
        ...     torch.randn(2, 8, 4, 4)
        >>> loss = rad(f_s, f_t, classifier_s=fc_s, classifier_t=fc_t)
        >>> loss.backward(); bool(f_s.grad.abs().sum() > 0)
        True
        >>> rad.num_regions
        21
    """

    def __init__(self,
                 tau: float = 2.0,
                 grids: Sequence[int] = (4, 2, 1),
                 weighting: str = 'uniform',
                 loss_weight: float = 1.0):
        super().__init__()
        if tau <= 0:
            raise ValueError(f'`tau` must be positive, got {tau}')
        if weighting not in WEIGHTINGS:
            raise ValueError(f'`weighting` must be one of {WEIGHTINGS}, got '
                             f'{weighting!r}')
        self.tau = float(tau)
        self.grids = check_grids(grids)
        self.num_regions = sum(g * g for g in self.grids)
        self.weighting = weighting
        self.loss_weight = float(loss_weight)
        self.attention = RegionAttentionWeighting(self.num_regions) \
            if weighting == 'attention' else None

    def region_losses(self, map_s: torch.Tensor, map_t: torch.Tensor,
                      classifier_s=None, classifier_t=None
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(R,) region losses l_r and the teacher's (B, C or K, R) regions."""
        if (classifier_s is None) != (classifier_t is None):
            raise ValueError('RegionAwareDistillLoss: give both '
                             '`classifier_s` and `classifier_t` (features) '
                             'or neither (logit maps)')
        if map_s.shape[0] != map_t.shape[0] or \
                map_s.shape[2:] != map_t.shape[2:]:
            raise ValueError(f'student map {tuple(map_s.shape)} and teacher '
                             f'map {tuple(map_t.shape)} differ in batch or '
                             'size')
        regions_s = pyramid_regions(map_s, self.grids)
        with torch.no_grad():
            regions_t = pyramid_regions(map_t.detach(), self.grids)
            logits_t = regions_t if classifier_t is None else \
                classify_regions(regions_t, classifier_t)
        logits_s = regions_s if classifier_s is None else \
            classify_regions(regions_s, classifier_s)
        return region_kl(logits_s, logits_t.detach(), self.tau), regions_t

    def region_weights(self, losses: torch.Tensor, regions_t: torch.Tensor,
                       strength_map_t: Optional[torch.Tensor],
                       features: bool) -> torch.Tensor:
        """(R,) weights a_r of the configured ``weighting``."""
        if self.weighting == 'uniform':
            return losses.new_full((self.num_regions, ),
                                   1.0 / self.num_regions)
        if self.weighting == 'attention':
            return self.attention(losses)
        if strength_map_t is not None:
            regions_t = pyramid_regions(strength_map_t.detach(), self.grids)
        elif not features:
            raise ValueError(
                "RegionAwareDistillLoss(weighting='strength') on logit maps "
                'needs the teacher feature map as `strength_map_t` (e.g. '
                "inputs=dict(..., strength_map_t='teacher.<recorder>'))")
        return teacher_strength_weights(regions_t).to(losses.dtype)

    @fp32_loss
    def forward(self, map_s: torch.Tensor, map_t: torch.Tensor,
                classifier_s: Optional[nn.Module] = None,
                classifier_t: Optional[nn.Module] = None,
                strength_map_t: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """Compute lambda L_RAD, in fp32 with autocast off (pooling,
        region classifiers, KL, weights).

        Args:
            map_s (Tensor): (B, C, h, w) student features (with classifiers)
                or (B, K, h, w) student logits.
            map_t (Tensor): the teacher's map of the same kind and size; no
                gradient flows into it.
            classifier_s (nn.Module, optional): the student's classifier,
                (N, C) -> (N, K).
            classifier_t (nn.Module, optional): the teacher's classifier.
            strength_map_t (Tensor, optional): (B, C', h', w') teacher map
                whose regions give the ``'strength'`` weights (default: the
                teacher's ``map_t`` features).

        Returns:
            Tensor: scalar.
        """
        losses, regions_t = self.region_losses(map_s, map_t, classifier_s,
                                               classifier_t)
        weights = self.region_weights(losses, regions_t, strength_map_t,
                                      classifier_t is not None)
        return self.loss_weight * (weights * losses).sum()

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, grids={self.grids}, '
                f'weighting={self.weighting!r}, '
                f'loss_weight={self.loss_weight}')
