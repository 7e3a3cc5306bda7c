"""Maximum mean discrepancy with Gaussian kernels: multi-kernel MMD and JMMD.

Shorthand: N samples per domain (pixels or images), D feature dimension,
L layers, B batch, C channels, h x w map size, K classes.

Multi-kernel MMD, as the one-stage distillation authors compute it (the DAN
form, biased estimate): with Z = [X; Y] the 2N stacked samples and
``d_ij = ||z_i - z_j||^2``::

    beta   = mean_{i != j} d_ij                  (no gradient through beta)
    k(i,j) = sum_{s in S} exp(-d_ij / (s * beta)),  S = {1/4, 1/2, 1, 2, 4}
    MMD^2  = mean k(X, X) + mean k(Y, Y) - mean k(X, Y) - mean k(Y, X)

JMMD (JAN, Long et al., ICML 2017) compares the *joint* distribution of
several layers: the joint kernel is the product over layers of each layer's
kernel, ``k(i, j) = prod_l k_l(i, j)``, then the same four block means. The
softmax-prediction layer uses one kernel of fixed bandwidth 1.68
(``S = {1}``, ``beta = 1.68``). Samples must be paired across layers: the
i-th row of every layer comes from the same pixel (or image).

:func:`paired_pixel_samples` turns (B, C_l, h_l, w_l) maps into such rows:
every map is average-pooled to one common grid of at most 30 x 40 and the
same random subset of at most 512 positions is taken from every map.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .margin_aware_distill_loss import check_sample_options
from .precision import fp32_loss

#: the bandwidth multipliers of the authors' multi-kernel MMD
DEFAULT_BANDWIDTH_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: JAN's fixed bandwidth of the softmax-prediction layer
SOFTMAX_BANDWIDTH = 1.68


def _check_factors(factors: Sequence[float], option: str) -> Tuple[float]:
    factors = tuple(float(f) for f in factors)
    if not factors or min(factors) <= 0:
        raise ValueError(f'`{option}` must be a non-empty sequence of '
                         f'positive numbers, got {factors!r}')
    return factors


@fp32_loss
def gaussian_kernel_matrix(source: torch.Tensor, target: torch.Tensor,
                           bandwidth_factors: Sequence[float] = (
                               DEFAULT_BANDWIDTH_FACTORS),
                           fixed_bandwidth: Optional[float] = None
                           ) -> torch.Tensor:
    """Sum of Gaussian kernels over the stacked samples ``[source; target]``.

    Args:
        source (Tensor): (N_s, D) samples of one domain.
        target (Tensor): (N_t, D) samples of the other.
        bandwidth_factors (Sequence[float]): the multipliers s of the base
            bandwidth; one kernel ``exp(-d / (s * beta))`` each.
        fixed_bandwidth (float, optional): the base bandwidth beta; ``None``:
            the mean off-diagonal squared distance of the stacked samples,
            taken without gradient.

    Returns:
        Tensor: (N_s + N_t, N_s + N_t) kernel sum, computed in float32 or
        wider with autocast off (:func:`fp32_loss`).
    """
    if source.dim() != 2 or target.dim() != 2 or \
            source.shape[1] != target.shape[1]:
        raise ValueError('MMD samples must be (N, D) matrices with the same '
                         f'D, got {tuple(source.shape)} and '
                         f'{tuple(target.shape)}')
    factors = _check_factors(bandwidth_factors, 'bandwidth_factors')
    dtype = torch.promote_types(source.dtype, torch.float32)
    total = torch.cat([source.to(dtype), target.to(dtype)], dim=0)
    n = total.shape[0]
    if n < 2:
        raise ValueError(f'MMD needs at least 2 samples in all, got {n}')
    sq = (total * total).sum(1)
    dist = (sq[:, None] + sq[None, :] - 2 * total @ total.t()).clamp_min(0)
    # exact zeros on the diagonal (the expansion leaves rounding there)
    dist = dist * (1 - torch.eye(n, dtype=dtype, device=dist.device))
    if fixed_bandwidth is None:
        beta = dist.detach().sum() / (n * n - n)
        # identical samples: every distance is 0 and any bandwidth gives 1
        beta = beta.clamp_min(torch.finfo(dtype).tiny)
    else:
        if fixed_bandwidth <= 0:
            raise ValueError(f'`fixed_bandwidth` must be positive, got '
                             f'{fixed_bandwidth}')
        beta = torch.as_tensor(float(fixed_bandwidth), dtype=dtype,
                               device=dist.device)
    return sum(torch.exp(-dist / (beta * s)) for s in factors)


def mmd_from_kernel(kernel: torch.Tensor, num_source: int) -> torch.Tensor:
    """Biased MMD^2 from a kernel over ``[source; target]``.

    Args:
        kernel (Tensor): (N_s + N_t, N_s + N_t).
        num_source (int): N_s, the rows of the source block.
    """
    if not 0 < num_source < kernel.shape[0]:
        raise ValueError(f'num_source must lie in (0, {kernel.shape[0]}), '
                         f'got {num_source}')
    xs, ys = slice(0, num_source), slice(num_source, None)
    return (kernel[xs, xs].mean() + kernel[ys, ys].mean() -
            kernel[xs, ys].mean() - kernel[ys, xs].mean())


def multi_kernel_mmd(source: torch.Tensor, target: torch.Tensor,
                     bandwidth_factors: Sequence[float] = (
                         DEFAULT_BANDWIDTH_FACTORS),
                     fixed_bandwidth: Optional[float] = None) -> torch.Tensor:
    """Biased multi-kernel MMD^2 between (N_s, D) and (N_t, D) samples.

    Example:
        >>> x = torch.randn(16, 4)
        >>> float(multi_kernel_mmd(x, x))
        0.0
    """
    kernel = gaussian_kernel_matrix(source, target, bandwidth_factors,
                                    fixed_bandwidth)
    return mmd_from_kernel(kernel, source.shape[0])


def joint_mmd(sources: Sequence[torch.Tensor],
              targets: Sequence[torch.Tensor],
              bandwidth_factors: Sequence[Sequence[float]],
              fixed_bandwidths: Sequence[Optional[float]]) -> torch.Tensor:
    """Biased JMMD^2: the product over layers of each layer's kernel.

    Args:
        sources (Sequence[Tensor]): L matrices (N, D_l) of the source domain,
            row i of every layer from the same sample.
        targets (Sequence[Tensor]): L matrices (N, D_l) of the target domain.
        bandwidth_factors (Sequence[Sequence[float]]): per layer, the
            multipliers of its base bandwidth.
        fixed_bandwidths (Sequence[float | None]): per layer, a fixed base
            bandwidth or ``None`` (mean off-diagonal squared distance).

    Example:
        >>> x = [torch.randn(8, 4), torch.softmax(torch.randn(8, 3), 1)]
        >>> y = [torch.randn(8, 4), torch.softmax(torch.randn(8, 3), 1)]
        >>> float(joint_mmd(x, y, [(0.5, 1, 2), (1, )], [None, 1.68])) > 0
        True
    """
    num = len(sources)
    if not num or len(targets) != num or len(bandwidth_factors) != num or \
            len(fixed_bandwidths) != num:
        raise ValueError(
            f'joint_mmd needs one entry per layer in sources ({num}), targets '
            f'({len(targets)}), bandwidth_factors ({len(bandwidth_factors)}) '
            f'and fixed_bandwidths ({len(fixed_bandwidths)}), at least one')
    rows = {x.shape[0] for x in list(sources) + list(targets)}
    if len(rows) != 1:
        raise ValueError('JMMD pairs samples across layers and domains: every '
                         f'layer must have the same number of rows, got '
                         f'{[x.shape[0] for x in sources]} (source) and '
                         f'{[x.shape[0] for x in targets]} (target)')
    joint = None
    for x, y, factors, fixed in zip(sources, targets, bandwidth_factors,
                                    fixed_bandwidths):
        kernel = gaussian_kernel_matrix(x, y, factors, fixed)
        joint = kernel if joint is None else joint * kernel
    return mmd_from_kernel(joint, sources[0].shape[0])


# -- samples -----------------------------------------------------------------
def paired_pixel_samples(maps: Sequence[torch.Tensor],
                         pool_size: Optional[Tuple[int, int]] = (30, 40),
                         max_samples: Optional[int] = 512,
                         generator: Optional[torch.Generator] = None
                         ) -> List[torch.Tensor]:
    """Pixel rows of several maps, paired position by position.

    Every map (B, C_l, h_l, w_l) is average-pooled to the common grid
    ``(min(P_h, min_l h_l), min(P_w, min_l w_l))`` (``(P_h, P_w) =
    pool_size``), flattened to (B * h * w, C_l) rows, and the same random
    subset of at most ``max_samples`` rows is taken from every map.

    Args:
        maps (Sequence[Tensor]): (B, C_l, h_l, w_l) maps of one batch; pass
            the student's and the teacher's maps together so that both get
            the same positions.
        pool_size (tuple[int, int] | None): upper bound of the grid; ``None``
            keeps the smallest map's size.
        max_samples (int | None): rows kept; ``None`` keeps all.
        generator (torch.Generator, optional): for the random subset.

    Returns:
        list[Tensor]: (N, C_l) per map, N = min(max_samples, B * h * w).
    """
    if not maps:
        raise ValueError('paired_pixel_samples got no maps')
    if any(m.dim() != 4 for m in maps) or \
            len({m.shape[0] for m in maps}) != 1:
        raise ValueError('pixel samples need (B, C, h, w) maps of one batch, '
                         f'got {[tuple(m.shape) for m in maps]}')
    height = min(m.shape[2] for m in maps)
    width = min(m.shape[3] for m in maps)
    if pool_size is not None:
        height, width = min(height, pool_size[0]), min(width, pool_size[1])
    rows = []
    for m in maps:
        if tuple(m.shape[2:]) != (height, width):
            m = F.adaptive_avg_pool2d(m, (height, width))
        rows.append(m.permute(0, 2, 3, 1).reshape(-1, m.shape[1]))
    total = rows[0].shape[0]
    if max_samples is not None and total > max_samples:
        keep = torch.randperm(total, generator=generator)[:max_samples]
        keep = keep.to(rows[0].device)
        rows = [r[keep] for r in rows]
    return rows


def image_samples(maps: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """One row per image: (B, C, h, w) maps are globally average-pooled,
    (B, D) matrices kept."""
    out = []
    for m in maps:
        if m.dim() == 4:
            m = m.mean(dim=(2, 3))
        elif m.dim() != 2:
            raise ValueError('image samples need (B, C, h, w) or (B, D), got '
                             f'{tuple(m.shape)}')
        out.append(m)
    return out


class _SampledMMD(nn.Module):
    """Sampling options shared by the MMD losses."""

    def __init__(self, samples: str, pool_size, max_samples,
                 loss_weight: float):
        super().__init__()
        pool_size = check_sample_options(samples, pool_size)
        if max_samples is not None and int(max_samples) < 2:
            raise ValueError(f'`max_samples` must be >= 2 or None, got '
                             f'{max_samples!r}')
        self.samples = samples
        self.pool_size = pool_size
        self.max_samples = None if max_samples is None else int(max_samples)
        self.loss_weight = float(loss_weight)

    def rows(self, maps: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """The paired sample rows of ``maps`` (see the module docstring)."""
        if self.samples == 'image':
            return image_samples(maps)
        return paired_pixel_samples(maps, self.pool_size, self.max_samples)


@MODELS.register_module()
class MultiKernelMMDLoss(_SampledMMD):
    """Multi-kernel MMD^2 between student and teacher features.

    Args:
        bandwidth_factors (Sequence[float]): multipliers of the mean
            off-diagonal squared distance. Defaults to (1/4, 1/2, 1, 2, 4).
        samples (str): ``'pixel'`` (rows are pixels of the maps pooled to at
            most ``pool_size``, a random subset of ``max_samples``) or
            ``'image'`` (one globally pooled row per image).
        pool_size (tuple[int, int] | None): see ``samples``.
        max_samples (int | None): see ``samples``.
        loss_weight (float): multiplies the loss.

    Example:
        >>> loss = MultiKernelMMDLoss(samples='pixel', max_samples=64)
        >>> x = torch.randn(2, 8, 6, 6)
        >>> float(loss(x, x))
        0.0
    """

    def __init__(self, bandwidth_factors=DEFAULT_BANDWIDTH_FACTORS,
                 samples: str = 'pixel', pool_size=(30, 40),
                 max_samples: Optional[int] = 512, loss_weight: float = 1.0):
        super().__init__(samples, pool_size, max_samples, loss_weight)
        self.bandwidth_factors = _check_factors(bandwidth_factors,
                                                'bandwidth_factors')

    @fp32_loss
    def forward(self, feat_s: torch.Tensor,
                feat_t: torch.Tensor) -> torch.Tensor:
        """feat_s, feat_t: (B, C, h, w) (or (B, D) with ``'image'``); the
        teacher side is detached. Pooling and kernels in fp32."""
        x, y = self.rows([feat_s, feat_t.detach()])
        return self.loss_weight * multi_kernel_mmd(x, y,
                                                   self.bandwidth_factors)


@MODELS.register_module()
class JointMMDLoss(_SampledMMD):
    """JMMD^2 (JAN) over feature layers plus the softmax predictions.

    Feature layers use the multi-kernel bandwidths; the prediction layer
    (softmax of the logits) one kernel of fixed bandwidth 1.68. In pixel
    mode the probabilities are pooled (not the logits), and every layer of
    student and teacher is sampled at the same positions.

    Args:
        bandwidth_factors (Sequence[float]): of every feature layer.
        softmax_bandwidth (float | None): fixed bandwidth of the prediction
            layer; ``None`` leaves the predictions out of the joint kernel.
        samples, pool_size, max_samples, loss_weight: see
            :class:`MultiKernelMMDLoss`.

    Example:
        >>> loss = JointMMDLoss(samples='image')
        >>> f, z = [torch.randn(4, 8)], torch.randn(4, 3)
        >>> float(loss(f, f, z, z))
        0.0
    """

    def __init__(self, bandwidth_factors=DEFAULT_BANDWIDTH_FACTORS,
                 softmax_bandwidth: Optional[float] = SOFTMAX_BANDWIDTH,
                 samples: str = 'pixel', pool_size=(30, 40),
                 max_samples: Optional[int] = 512, loss_weight: float = 1.0):
        super().__init__(samples, pool_size, max_samples, loss_weight)
        self.bandwidth_factors = _check_factors(bandwidth_factors,
                                                'bandwidth_factors')
        if softmax_bandwidth is not None and softmax_bandwidth <= 0:
            raise ValueError(f'`softmax_bandwidth` must be positive or None, '
                             f'got {softmax_bandwidth}')
        self.softmax_bandwidth = softmax_bandwidth

    @fp32_loss
    def forward(self, feats_s: Sequence[torch.Tensor],
                feats_t: Sequence[torch.Tensor],
                logits_s: Optional[torch.Tensor] = None,
                logits_t: Optional[torch.Tensor] = None) -> torch.Tensor:
        """JMMD^2 in fp32 (pooling, softmax, kernels).

        Args:
            feats_s (Sequence[Tensor]): student layers (B, C_l, h_l, w_l).
            feats_t (Sequence[Tensor]): teacher layers, same order and
                channels.
            logits_s (Tensor, optional): (B, K, h, w) or (B, K) student
                logits; needed unless ``softmax_bandwidth`` is None.
            logits_t (Tensor, optional): teacher logits, same shape.
        """
        feats_s, feats_t = list(feats_s), [f.detach() for f in feats_t]
        if len(feats_s) != len(feats_t):
            raise ValueError(f'{type(self).__name__}: {len(feats_s)} student '
                             f'layers but {len(feats_t)} teacher layers')
        for i, (fs, ft) in enumerate(zip(feats_s, feats_t)):
            if fs.shape[:2] != ft.shape[:2]:
                raise ValueError(
                    f'{type(self).__name__}: layer {i} student '
                    f'{tuple(fs.shape)} and teacher {tuple(ft.shape)} differ '
                    'in batch or channels')
        maps_s, maps_t = feats_s, feats_t
        factors = [self.bandwidth_factors] * len(feats_s)
        fixed = [None] * len(feats_s)
        if self.softmax_bandwidth is not None:
            if logits_s is None or logits_t is None:
                raise ValueError(f'{type(self).__name__}: logits_s and '
                                 'logits_t are needed for the prediction '
                                 'layer (softmax_bandwidth is set)')
            if logits_s.shape != logits_t.shape:
                raise ValueError(
                    f'{type(self).__name__}: student logits '
                    f'{tuple(logits_s.shape)} and teacher logits '
                    f'{tuple(logits_t.shape)} differ in shape')
            maps_s = maps_s + [F.softmax(logits_s.float(), dim=1)]
            maps_t = maps_t + [F.softmax(logits_t.detach().float(), dim=1)]
            factors.append((1.0, ))
            fixed.append(self.softmax_bandwidth)
        rows = self.rows(maps_s + maps_t)
        n = len(maps_s)
        return self.loss_weight * joint_mmd(rows[:n], rows[n:], factors,
                                            fixed)
