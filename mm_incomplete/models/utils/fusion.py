"""Fusion blocks that merge per-modality features under a modality mask.

Shorthand: B batch, M modalities, C channels, h x w spatial size.

A fusion block sits at one fusion point of a multi-branch backbone (one per
fused stage). It receives the M branch features of that stage, one per
modality in layout order, and the per-sample modality mask (B, M), and returns
one fused feature (B, C, h, w). :class:`BaseFusion` is the interface every
block follows; the backbone builds one block per fusion point from a config
such as ``dict(type='SqueezeExciteFusion', reduction=16)``, filling in
``modalities`` (the layout's names) and ``channels`` (C at that stage).

A block has two parts so that every-combination evaluation can run each
encoder once per batch:

- ``recalibrate(name, x)``: what depends on one modality's feature only
  (ESANet's squeeze-and-excitation, a projection). It may not look at the
  mask; the backbone applies it once per batch, right after the branch.
- ``combine(feats, mask)``: everything that depends on the mask; it runs once
  per combination.

ESANet (Seichter et al., ICRA 2021) fuses an RGB and a depth encoder at every
stage: each branch's feature is recalibrated by its own squeeze-and-excitation
(SE) block and the results are added. For incomplete modalities the
per-sample mask is applied at this point: a masked modality contributes
nothing, and its branch receives no gradient from that sample.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

#: Branch features of one fusion point: a list in layout order (``None`` for
#: a modality whose branch did not run) or a dict ``{name: (B, C, h, w)}``
#: (a modality may be missing when its branch did not run).
BranchFeats = Union[Sequence[Optional[torch.Tensor]],
                    Dict[str, torch.Tensor]]


def as_feature_list(feats: BranchFeats, names: Sequence[str],
                    what: str = 'fusion') -> List[Optional[torch.Tensor]]:
    """Branch features as a list in ``names`` order, ``None`` where absent.

    Args:
        feats (list | dict): see :data:`BranchFeats`.
        names (Sequence[str]): the M modality names in layout order.
        what (str): the caller, named in error messages.

    Example:
        >>> x = torch.zeros(1, 2, 1, 1)
        >>> [f is None for f in as_feature_list({'depth': x}, ['rgb', 'depth'])]
        [True, False]
    """
    if isinstance(feats, dict):
        unknown = [n for n in feats if n not in names]
        if unknown:
            raise ValueError(f'{what}: features of unknown modalities '
                             f'{unknown}; the layout is {list(names)}')
        return [feats.get(n) for n in names]
    feats = list(feats)
    if len(feats) != len(names):
        raise ValueError(f'{what}: got {len(feats)} branch features but the '
                         f'layout {list(names)} has {len(names)} modalities '
                         '(give one per modality, None where a branch did '
                         'not run)')
    return feats


class SqueezeExcitation(nn.Module):
    """Channel recalibration of Hu et al. (CVPR 2018), as used by ESANet.

    ``x * sigmoid(W2 relu(W1 avgpool(x)))`` with 1x1 convolutions.

    Args:
        channels (int): C, channels of the input (B, C, H, W).
        reduction (int): hidden width is ``channels // reduction``.
        min_hidden (int): lower bound of the hidden width, so narrow CPU-size
            models keep a useful bottleneck. Defaults to 8.

    Example:
        >>> se = SqueezeExcitation(32, reduction=16)
        >>> se(torch.rand(2, 32, 8, 8)).shape
        torch.Size([2, 32, 8, 8])
    """

    def __init__(self, channels: int, reduction: int = 16,
                 min_hidden: int = 8):
        super().__init__()
        hidden = min(channels, max(channels // reduction, min_hidden))
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.excite = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> (B, C, H, W)."""
        return x * self.excite(self.squeeze(x))


def masked_combine(feats: BranchFeats, mask: torch.Tensor,
                   names: Sequence[str], reduce: str = 'mean') -> torch.Tensor:
    """Combine per-modality features with a per-sample modality mask.

    ``fused_b = sum_m w_bm * x_{m,b}`` with ``w_bm = mask_bm`` (``'sum'``) or
    ``mask_bm / sum_m' mask_bm'`` (``'mean'``).

    Args:
        feats (list | dict): one (B, C, h, w) per modality in ``names``
            order (a list, ``None`` where a branch did not run) or a dict
            ``{name: (B, C, h, w)}``. A modality may be absent only if
            ``mask`` drops it for every sample.
        mask (Tensor): (B, M) bool, True = present, columns in ``names`` order;
            best on the host (the check of skipped branches then costs no
            synchronisation; the weights go to the features' device).
        names (Sequence[str]): the M modality names in layout order.
        reduce (str): ``'sum'`` adds the present features (ESANet);
            ``'mean'`` divides the sum by the number of present modalities
            of each sample, so the fused scale does not depend on how many
            modalities arrived.

    Returns:
        Tensor: (B, C, h, w); zero where a sample has no modality (never the
        case for masks drawn by this package).

    Example:
        >>> a, b = torch.full((2, 1, 1, 1), 2.), torch.full((2, 1, 1, 1), 6.)
        >>> mask = torch.tensor([[True, True], [False, True]])
        >>> masked_combine([a, b], mask, ['rgb', 'depth']).flatten().tolist()
        [4.0, 6.0]
    """
    if mask.dim() != 2 or mask.shape[1] != len(names):
        raise ValueError(f'mask must be (B, {len(names)}) for modalities '
                         f'{list(names)}, got {tuple(mask.shape)}')
    if reduce not in ('mean', 'sum'):
        raise ValueError(f"`reduce` must be 'mean' or 'sum', got {reduce!r}")
    feats = as_feature_list(feats, names, 'masked_combine')
    present = [f for f in feats if f is not None]
    if not present:
        raise ValueError('masked_combine got no branch features')
    absent = [m for m, f in enumerate(feats) if f is None]
    # a branch that did not run must be masked for the whole batch (read
    # from the host mask: free; a device mask costs one synchronisation, and
    # only when a branch was skipped)
    if absent and bool(mask[:, absent].any()):
        missing = [names[m] for m in absent if bool(mask[:, m].any())]
        raise ValueError(
            f'modality {missing[0]!r} is present for some samples of the '
            'mask but its features were not computed')
    ref = present[0]
    weights = mask.to(device=ref.device, dtype=ref.dtype, non_blocking=True)
    if reduce == 'mean':
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1)
    out = None
    for m, f in enumerate(feats):
        if f is None:
            continue
        term = f * weights[:, m].view(-1, *[1] * (f.dim() - 1))
        out = term if out is None else out + term
    return out


class BaseFusion(BaseModule):
    """Interface of a fusion block: M branch features + mask -> one feature.

    Subclasses implement :meth:`combine` (the mask-dependent part) and may
    override :meth:`recalibrate` (a per-modality, mask-independent transform,
    identity by default). Register them in mmengine's root ``MODELS`` so both
    the mmseg and the mmpretrain scope can build them; a multi-branch backbone
    builds one per fusion point with ``modalities`` and ``channels`` filled
    in.

    Contract: ``forward(feats, mask) -> (B, C, h, w)`` where ``feats`` holds
    one (B, C, h, w) per modality in layout order (``None`` for a modality
    whose branch did not run, which the mask then drops for every sample) and
    ``mask`` is (B, M) bool. Features of masked samples arrive as zeros; a
    block must give a masked modality no influence on that sample's output
    (and so no gradient).

    Args:
        modalities (Sequence[str]): the M modality names in layout order.
        channels (int): C, channels of every branch feature at this point.
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> class MaxFusion(BaseFusion):
        ...     def combine(self, feats, mask):
        ...         stacked = torch.stack([
        ...             f.masked_fill(~mask[:, m, None, None, None], -1e4)
        ...             for m, f in enumerate(feats)])
        ...         return stacked.amax(0)
        >>> fusion = MaxFusion(['rgb', 'depth'], channels=2)
        >>> x = [torch.ones(1, 2, 1, 1), torch.full((1, 2, 1, 1), 3.)]
        >>> fusion(x, torch.tensor([[True, False]])).flatten().tolist()
        [1.0, 1.0]
    """

    def __init__(self, modalities: Sequence[str], channels: int,
                 init_cfg=None):
        super().__init__(init_cfg)
        names = tuple(modalities)
        if not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f'{type(self).__name__}: `modalities` must be '
                             f'the layout\'s modality names, got {modalities!r}')
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'{type(self).__name__}: `channels` must be a '
                             f'positive int, got {channels!r}')
        self.names = names
        self.channels = channels

    def recalibrate(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Mask-independent transform of modality ``name``'s feature x
        (B, C, h, w) -> (B, C, h, w). Identity unless overridden."""
        return x

    def combine(self, feats: List[Optional[torch.Tensor]],
                mask: torch.Tensor) -> torch.Tensor:
        """Fuse recalibrated features (list in layout order, ``None`` where
        a branch did not run) under ``mask`` (B, M) -> (B, C, h, w)."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement combine(feats, mask)')

    def check_features(self, feats: BranchFeats
                       ) -> List[Optional[torch.Tensor]]:
        """``feats`` as a list in layout order; checks count and channels."""
        feats = as_feature_list(feats, self.names, type(self).__name__)
        for name, f in zip(self.names, feats):
            if f is not None and (f.dim() != 4 or f.shape[1] != self.channels):
                raise ValueError(
                    f'{type(self).__name__}: the {name!r} feature is '
                    f'{tuple(f.shape)}; expected (B, {self.channels}, h, w) '
                    '(`channels` of this fusion point)')
        return feats

    def forward(self, feats: BranchFeats, mask: torch.Tensor) -> torch.Tensor:
        """Recalibrate the branches of ``feats`` and combine them under
        ``mask`` (B, M) -> (B, C, h, w)."""
        feats = self.check_features(feats)
        feats = [None if f is None else self.recalibrate(n, f)
                 for n, f in zip(self.names, feats)]
        return self.combine(feats, mask)


@MODELS.register_module()
class SqueezeExciteFusion(BaseFusion):
    """ESANet fusion at one stage: SE on each branch, mask, then sum.

    ``fused_b = sum_m w_bm * SE_m(x_m)_b`` with ``w_bm = mask_bm`` (``'sum'``)
    or ``mask_bm / sum_m' mask_bm'`` (``'mean'``, the default).

    Registered in mmengine's root ``MODELS``, so both the mmseg and the
    mmpretrain scope build it from ``dict(type='SqueezeExciteFusion')``.

    Args:
        modalities (Sequence[str]): the M modality names in layout order.
        channels (int): C, channels of every branch at this stage.
        reduction (int): SE reduction ratio. Defaults to 16 (ESANet).
        reduce (str): ``'mean'`` or ``'sum'``, see :func:`masked_combine`.
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> fusion = SqueezeExciteFusion(['rgb', 'depth'], channels=16)
        >>> x = [torch.rand(2, 16, 4, 4), torch.rand(2, 16, 4, 4)]
        >>> mask = torch.tensor([[True, True], [True, False]])
        >>> fusion(x, mask).shape
        torch.Size([2, 16, 4, 4])
    """

    def __init__(self, modalities: Sequence[str], channels: int,
                 reduction: int = 16, reduce: str = 'mean', init_cfg=None):
        super().__init__(modalities, channels, init_cfg)
        if reduce not in ('mean', 'sum'):
            raise ValueError(f"`reduce` must be 'mean' or 'sum', got "
                             f'{reduce!r}')
        self.reduce = reduce
        self.se = nn.ModuleDict(
            {name: SqueezeExcitation(channels, reduction)
             for name in self.names})

    def recalibrate(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """SE of modality ``name``: x (B, C, h, w) -> (B, C, h, w)."""
        return self.se[name](x)

    def combine(self, feats: BranchFeats, mask: torch.Tensor) -> torch.Tensor:
        """Masked sum/mean of recalibrated features under ``mask`` (B, M)
        -> (B, C, h, w)."""
        return masked_combine(feats, mask, self.names, self.reduce)
