"""Cross translation network (CTN): the fusion block of one-stage modality
distillation (Wei, Luo, Luo, arXiv 2309.08204).

Shorthand: B batch, M modalities, C channels, h x w spatial size, P the
modalities whose features were computed.

For two modalities A (available) and P (privileged, or its hallucination),
with translators ``T_j(x) = ReLU(Conv1x1_{C -> C/2}(x))`` (bias, no BN),
each applied to *both* modalities::

    joint   = cat[(T_1(f_A) + T_1(f_P)) / 2, (T_2(f_P) + T_2(f_A)) / 2]
    fused   = ReLU(Conv1x1_{C -> C}(joint))
    recon_A = cat[T_1(f_A), T_2(f_A)]      (should reconstruct f_A)
    recon_P = cat[T_1(f_P), T_2(f_P)]      (should reconstruct f_P)

Generalised to M modalities and the modality mask (B, M): M translators of
C/M channels each, part j of ``joint`` is the mean of ``T_j(f_m)`` over the
modalities m *present in the sample* (a masked modality contributes
nothing), and ``recon_m = cat_j T_j(f_m)``. For M = 2 with both present this
is the formula above. The reconstruction error (mean squared error between
``recon_m`` and ``f_m`` over the present (sample, modality) pairs) is the
output of the child module ``reconstruction``, computed in training only, so
a distiller can record it by path (``backbone.fusions.<point>.reconstruction``)
for :class:`CrossTranslationReconstructionLoss`.

The block is a :class:`~mm_incomplete.models.utils.fusion.BaseFusion`
(``recalibrate`` per branch, then ``combine`` under a mask), so any
multi-branch backbone builds it at its fusion points. It has no per-branch
recalibration (``recalibrate`` is the identity).
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from ..losses.precision import fp32_loss
from .fusion import BaseFusion, BranchFeats, as_feature_list


class TranslationReconstructionError(nn.Module):
    """Mean squared error of each modality's translations vs its feature.

    ``err = sum_{p, b} w_pb mean_{c,h,w}(recon_pb - f_pb)^2 / sum w`` over
    the computed modalities p and samples b with ``w_pb`` = presence.

    Example:
        >>> err = TranslationReconstructionError()
        >>> f = torch.ones(1, 2, 3, 4, 4)
        >>> float(err(f, torch.zeros_like(f), torch.ones(1, 2)))
        1.0
    """

    @fp32_loss
    def forward(self, recon: torch.Tensor, feats: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        """recon, feats (P, B, C, h, w), weights (P, B) -> fp32 scalar."""
        per = (recon - feats).pow(2).flatten(2).mean(2)  # (P, B)
        return (per * weights).sum() / weights.sum().clamp_min(1)


@MODELS.register_module()
class CrossTranslationFusion(BaseFusion):
    """CTN fusion of M modality features under a modality mask.

    Registered in mmengine's root ``MODELS``; :class:`MultiBranchResNet`
    builds it at every fusion point from
    ``dict(type='CrossTranslationFusion')`` with ``modalities`` and
    ``channels`` filled in.

    Args:
        modalities (Sequence[str]): the M modality (branch) names in layout
            order.
        channels (int): C, divisible by M.
        init_cfg (dict, optional): mmengine init config.

    Example:
        >>> ctn = CrossTranslationFusion(['rgb', 'depth'], channels=8)
        >>> x = {'rgb': torch.rand(2, 8, 4, 4),
        ...      'depth': torch.rand(2, 8, 4, 4)}
        >>> mask = torch.tensor([[True, True], [True, False]])
        >>> ctn(x, mask).shape
        torch.Size([2, 8, 4, 4])
        >>> ctn.translate(x['rgb']).shape    # recon_rgb
        torch.Size([2, 8, 4, 4])
    """

    def __init__(self, modalities: Sequence[str], channels: int,
                 init_cfg=None):
        super().__init__(modalities, channels, init_cfg)
        num = len(self.names)
        if num < 1 or channels % num:
            raise ValueError(
                f'CrossTranslationFusion: channels ({channels}) must be '
                f'divisible by the number of modalities ({num}: '
                f'{list(self.names)}); choose base/stem widths accordingly')
        self.translators = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels // num, 1),
                          nn.ReLU(inplace=True)) for _ in range(num))
        self.joint = nn.Sequential(nn.Conv2d(channels, channels, 1),
                                   nn.ReLU(inplace=True))
        self.reconstruction = TranslationReconstructionError()

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """``cat_j T_j(x)``: x (B, C, h, w) -> (B, C, h, w)."""
        return torch.cat([t(x) for t in self.translators], dim=1)

    def recalibrate(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Identity: the CTN has no per-branch recalibration."""
        if name not in self.names:
            raise KeyError(f'CrossTranslationFusion has no modality {name!r};'
                           f' known: {list(self.names)}')
        return x

    def combine(self, feats: BranchFeats,
                mask: torch.Tensor) -> torch.Tensor:
        """Fuse the features (a list in layout order, ``None`` where a
        branch did not run, or ``{name: (B, C, h, w)}``) under ``mask`` (B,
        M) -> (B, C, h, w).

        A modality masked out for the whole batch may be missing; one
        present for some sample must be there. ``mask`` is best on the host
        (the checks then cost no synchronisation; the weights go to the
        features' device).
        """
        feats = {n: f for n, f in zip(
            self.names, as_feature_list(feats, self.names, 'CTN'))
            if f is not None}
        if mask.dim() != 2 or mask.shape[1] != len(self.names):
            raise ValueError(f'mask must be (B, {len(self.names)}) for '
                             f'modalities {list(self.names)}, got '
                             f'{tuple(mask.shape)}')
        order, weights = [], []
        for m, name in enumerate(self.names):
            if not bool(mask[:, m].any()):
                continue
            if name not in feats:
                raise ValueError(
                    f'modality {name!r} is present for some samples of the '
                    'mask but its features were not computed')
            order.append(name)
            weights.append(mask[:, m])
        if not order:
            raise ValueError('CrossTranslationFusion: the mask keeps no '
                             f'modality of {list(self.names)} in any sample')
        present = torch.stack(weights)  # (P, B) bool, on the mask's device
        if not bool(present.any(0).all()):
            raise ValueError('CrossTranslationFusion: some sample has no '
                             f'modality of {list(self.names)} present; mask '
                             f'{mask.tolist()}')
        ref = feats[order[0]]
        w = present.to(device=ref.device, dtype=ref.dtype, non_blocking=True)
        norm = w / w.sum(0, keepdim=True)  # mean over the present ones
        recon = torch.stack([self.translate(feats[n]) for n in order])
        joint = (recon * norm.view(*norm.shape, 1, 1, 1)).sum(0)
        # the parts of ``recon`` are T_1 .. T_M in channel order, so the
        # weighted mean above is cat_j mean_m T_j(f_m)
        if self.training:
            self.reconstruction(recon, torch.stack([feats[n] for n in order]),
                                w)
        return self.joint(joint)

    def forward(self, feats: BranchFeats, mask: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`combine` (nothing to recalibrate)."""
        return self.combine(feats, mask)
