"""UDML's losses and its reliance estimate, from one forward record.

Shorthand: B batch, M modalities, K classes, C channels of the embedded
stage, h x w its size, l_bm the noise level injected into modality m of
sample b (1 = clean).

With a :class:`~mm_incomplete.models.backbones.UDMLBackbone` (which records
``extras['udml']``) and :class:`~mm_incomplete.datasets.transforms.
MultiModalNoiseInjection` (which puts ``noise_level`` in every sample's
metainfo), the UDML objective is

    CE(fused)                                   (the task head's own loss)
  + gamma * sum_m CE(head(fuse(only m)))        loss_single_<m>
  + beta  * sum_m KL(N(mu_m, s_m^2) || N(0, l_m))   loss_kl_<m>
  + lambda * mean_{b,m present} (sigma_bm - l_bm)^2  loss_estimator
                              (sigma = exp(o / 2), o bounded: estimator_mse)

and, detached, the reliance R_m = mean over present samples (pixels) of the
L1 norm over classes of the single-modality logits, kept as an EMA
(``momentum``) in the backbone's persistent ``reliance`` buffer (saved,
restored, used at evaluation). Single-modality logits are the fused head
under the mask that keeps m only (``record.logits_under``): the release's
"fusion with every other modality zeroed".
"""
import math
from typing import Dict, Optional

import torch
from mmengine.registry import MODELS

from ..losses.precision import fp32_loss
from .base import BaseMethodLoss
from .record import ForwardRecord
from .unimodal_losses import stack_labels, task_cross_entropy


#: Upper bound on the estimator's output o = log sigma^2 inside its MSE:
#: sigma <= exp(10) ~ 22026, 2000 times the release's largest level (11);
#: see :func:`estimator_mse`.
LOG_SIGMA2_MAX = 20.0


def noise_levels(data_samples, names, device) -> torch.Tensor:
    """(B, M) float levels from each sample's ``noise_level`` metainfo; an
    error names the sample and key where one is missing, and the sample,
    modality and value where a level is not in (0, exp(LOG_SIGMA2_MAX / 2))
    (the KL's prior variance must be > 0; the estimator's MSE needs its
    target below its bound)."""
    top = math.exp(LOG_SIGMA2_MAX / 2)
    rows = []
    for i, s in enumerate(data_samples):
        level = s.metainfo.get('noise_level') if hasattr(
            s, 'metainfo') else None
        if not isinstance(level, dict) or any(n not in level for n in names):
            raise KeyError(
                f'UDMLLoss: data sample {i} has noise_level={level!r}; it '
                f'needs a level for each of {list(names)} (put '
                'MultiModalNoiseInjection in the training pipeline)')
        rows.append([float(level[n]) for n in names])
        for n, v in zip(names, rows[-1]):
            if not 0 < v < top:  # also NaN
                raise ValueError(
                    f'UDMLLoss: data sample {i} has noise_level[{n!r}] = '
                    f'{v!r}; a level must be in (0, {top:.0f})')
    return torch.tensor(rows).to(device, non_blocking=True)


@fp32_loss
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor,
                prior_var: torch.Tensor) -> torch.Tensor:
    """Per-sample mean over elements of KL(N(mu, e^logvar) || N(0, v)),
    in fp32 with autocast off.

    Args:
        mu, logvar (Tensor): (n, C, h, w).
        prior_var (Tensor): (n, ) v > 0.

    Example:
        >>> gaussian_kl(torch.zeros(1, 2, 1, 1), torch.zeros(1, 2, 1, 1),
        ...             torch.ones(1))
        tensor([0.])
    """
    v = prior_var.view(-1, *[1] * (mu.dim() - 1)).to(mu.dtype)
    kl = 0.5 * (v.log() - logvar + (logvar.exp() + mu.pow(2)) / v - 1)
    return kl.flatten(1).mean(1)


@fp32_loss
def estimator_mse(log_sigma2: torch.Tensor, levels: torch.Tensor,
                  present: torch.Tensor) -> torch.Tensor:
    """mean over present (b, m) of (sigma_bm - l_bm)^2, sigma = exp(o / 2)
    from the estimator's output o = log sigma^2, in fp32 with autocast off.

    **Bound**: o is read as min(o, ``LOG_SIGMA2_MAX`` = 20) in the value
    (sigma <= e^10 ~ 22026), with the gradient of o passed through
    unchanged. Unbounded, sigma overflows float32 for o > ~177 and the
    loss, its gradient and, after clipping (inf x 0), the estimator's
    parameters become inf / NaN. A plain clamp would give no gradient above
    the bound, so an estimator that got there would stay there; with the
    pass-through the gradient is that of the bound, (sigma_max - l)
    sigma_max > 0, which pulls o back (levels are checked to lie below
    sigma_max, :func:`noise_levels`). Below, the loss is exactly the
    release's: a trained estimator's o is about log l^2 in [0, 4.8]. There
    is no lower bound: for o -> -inf sigma -> 0 and the loss -> l^2,
    finite, with a vanishing gradient (the release's loss; nothing
    overflows).

    Args:
        log_sigma2 (Tensor): (B, M) estimator outputs o = log sigma^2.
        levels (Tensor): (B, M) injected levels l.
        present (Tensor): (B, M) bool or 0/1 presence; absent entries
            count for nothing whatever their o.

    Example:
        >>> o = torch.tensor([[0., 2 * math.log(3.)]])   # sigma = (1, 3)
        >>> estimator_mse(o, torch.ones(1, 2), torch.tensor([[True, False]]))
        tensor(0.)
        >>> estimator_mse(torch.tensor([[400.]]), torch.ones(1, 1),
        ...               torch.ones(1, 1)).isfinite()
        tensor(True)
    """
    present = present.to(torch.bool)
    # value min(o, bound), gradient of o everywhere (straight-through);
    # subtracting a detached excess instead rounds away in float32 once
    # |o| is large (o = 1e9 read as a loss of 0 with no gradient)
    bounded = log_sigma2.detach().clamp(max=LOG_SIGMA2_MAX) + (
        log_sigma2 - log_sigma2.detach())
    sigma = (0.5 * bounded).exp()
    sq = torch.where(present, (sigma - levels).pow(2),
                     sigma.new_zeros(()))
    return sq.sum() / present.sum().clamp(min=1)


@MODELS.register_module()
class UDMLLoss(BaseMethodLoss):
    """Single-modality CE, KL to the noise prior, the estimator's MSE and
    the reliance EMA of UDML.

    Args:
        gamma (float): single-modality CE factor [release 4.0 or 2.5].
        beta (float): KL factor [release 1e-5 or 0].
        estimator_weight (float): MSE factor [release 0.1].
        momentum (float): EMA momentum of R_m (the release uses the
            previous batch's value, i.e. momentum 0). Defaults to 0.9.
        ignore_index (int): unlabelled value in segmentation.
        loss_weight (float): factor on every term. Defaults to 1.

    Example:
        >>> loss = UDMLLoss(gamma=4.0, beta=1e-5)
        >>> loss.momentum
        0.9
    """

    def __init__(self, gamma: float = 4.0, beta: float = 1e-5,
                 estimator_weight: float = 0.1, momentum: float = 0.9,
                 ignore_index: int = 255, loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(loss_weight, init_cfg)
        if not 0 <= momentum < 1:
            raise ValueError(f'UDMLLoss.momentum must be in [0, 1), got '
                             f'{momentum!r}')
        self.gamma, self.beta = float(gamma), float(beta)
        self.estimator_weight = float(estimator_weight)
        self.momentum = float(momentum)
        self.ignore_index = ignore_index

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        stats = record.get('extras.udml')
        names = record.layout.names
        device = record.inputs.device
        levels = noise_levels(record.data_samples, names, device)  # (B, M)
        losses = {}
        # the estimator: only present (b, m) count
        losses['loss_estimator'] = self.scaled(
            self.estimator_weight * estimator_mse(stats.log_sigma2, levels,
                                                  record.mask))
        labels = stack_labels(record.data_samples, record.task, device)
        reliance = torch.zeros(len(names), device=device)
        valid = torch.zeros(len(names), dtype=torch.bool)
        for m, name in enumerate(names):
            col = record.host_mask[:, m]
            if name not in stats.mu or not bool(col.any()):
                continue
            rows = col.nonzero().flatten()
            dev_rows = rows.to(device, non_blocking=True)
            if self.beta:
                kl = gaussian_kl(stats.mu[name].index_select(0, dev_rows),
                                 stats.logvar[name].index_select(
                                     0, dev_rows),
                                 levels[:, m].index_select(0, dev_rows))
                losses[f'loss_kl_{name}'] = self.scaled(self.beta * kl.mean())
            # m alone where present; the other rows keep their mask (every
            # row needs a modality; their logits are not used)
            only = record.host_mask.clone()
            only[rows] = False
            only[rows, m] = True
            logits = record.logits_under(only).index_select(0, dev_rows)
            if self.gamma:
                losses[f'loss_single_{name}'] = self.scaled(
                    self.gamma * task_cross_entropy(
                        logits, labels.index_select(0, dev_rows),
                        self.ignore_index))
            with torch.no_grad():  # L1 over classes, mean over samples/pixels
                reliance[m] = logits.detach().float().abs().sum(1).mean()
            valid[m] = True
        stats.owner.update_reliance(
            reliance, valid.to(device, non_blocking=True), self.momentum)
        stats.owner.last_stats = None  # drop the graph held by the stats
        for m, name in enumerate(names):
            losses[f'reliance_{name}'] = stats.owner.reliance[m].detach()
        return losses
