"""Fusion blocks that merge per-modality features under a modality mask.

Shorthand: B batch, M modalities, C channels, H x W spatial size.

ESANet (Seichter et al., ICRA 2021) fuses an RGB and a depth encoder at every
stage: each branch's feature is recalibrated by its own squeeze-and-excitation
(SE) block and the results are added. For incomplete modalities the per-sample
modality mask (B, M) is applied at this point: a masked modality contributes
nothing, and its branch receives no gradient from that sample.

The recalibration depends only on the branch's own feature, so it is split
from the masked combination (``recalibrate`` vs ``combine``): a model can run
every branch and its SE once per batch and combine them under many masks.
"""
from typing import Dict, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS


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


def masked_combine(feats: Dict[str, torch.Tensor], mask: torch.Tensor,
                   names: Sequence[str], reduce: str = 'mean') -> torch.Tensor:
    """Combine per-modality features with a per-sample modality mask.

    Args:
        feats (dict[str, Tensor]): ``{name: (B, C, H, W)}``; a modality may be
            left out only if ``mask`` drops it for every sample.
        mask (Tensor): (B, M) bool, True = present, columns in ``names`` order;
            best on the host (the checks below then cost no
            synchronisation; the weights go to the features' device).
        names (Sequence[str]): the M modality names in layout order.
        reduce (str): ``'sum'`` adds the present features (ESANet);
            ``'mean'`` divides the sum by the number of present modalities
            of each sample, so the fused scale does not depend on how many
            modalities arrived.

    Returns:
        Tensor: (B, C, H, W); zero where a sample has no modality (never the
        case for masks drawn by this package).
    """
    if mask.dim() != 2 or mask.shape[1] != len(names):
        raise ValueError(f'mask must be (B, {len(names)}) for modalities '
                         f'{list(names)}, got {tuple(mask.shape)}')
    ref = next(iter(feats.values()))
    weights = mask.to(device=ref.device, dtype=ref.dtype, non_blocking=True)
    if reduce == 'mean':
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1)
    elif reduce != 'sum':
        raise ValueError(f"`reduce` must be 'mean' or 'sum', got {reduce!r}")
    out = None
    for m, name in enumerate(names):
        if name not in feats:
            if bool(mask[:, m].any()):
                raise ValueError(
                    f'modality {name!r} is present for some samples of the '
                    'mask but its features were not computed')
            continue
        w = weights[:, m]
        if not bool(mask[:, m].any()):
            continue
        term = feats[name] * w.view(-1, 1, 1, 1)
        out = term if out is None else out + term
    if out is None:
        out = ref.new_zeros(ref.shape)
    return out


@MODELS.register_module()
class SqueezeExciteFusion(BaseModule):
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
        >>> x = {'rgb': torch.rand(2, 16, 4, 4),
        ...      'depth': torch.rand(2, 16, 4, 4)}
        >>> mask = torch.tensor([[True, True], [True, False]])
        >>> fusion(x, mask).shape
        torch.Size([2, 16, 4, 4])
    """

    def __init__(self, modalities: Sequence[str], channels: int,
                 reduction: int = 16, reduce: str = 'mean', init_cfg=None):
        super().__init__(init_cfg)
        if reduce not in ('mean', 'sum'):
            raise ValueError(f"`reduce` must be 'mean' or 'sum', got "
                             f'{reduce!r}')
        self.names = tuple(modalities)
        self.reduce = reduce
        self.se = nn.ModuleDict(
            {name: SqueezeExcitation(channels, reduction)
             for name in self.names})

    def recalibrate(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """SE of modality ``name``: x (B, C, H, W) -> (B, C, H, W)."""
        return self.se[name](x)

    def combine(self, feats: Dict[str, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:
        """Masked sum/mean of recalibrated features ``{name: (B, C, H, W)}``
        under ``mask`` (B, M) -> (B, C, H, W)."""
        return masked_combine(feats, mask, self.names, self.reduce)

    def forward(self, feats: Dict[str, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:
        """Recalibrate the branches of ``feats`` and combine them under
        ``mask`` (B, M). Branches masked out for the whole batch may be
        absent from ``feats``."""
        return self.combine(
            {n: self.recalibrate(n, x) for n, x in feats.items()}, mask)
