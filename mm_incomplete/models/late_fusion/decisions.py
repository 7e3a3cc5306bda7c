"""Decision rules of late fusion: per-modality logits -> one prediction.

Shorthand: B batch, M modalities (M' of them computed), K classes, ``...``
the spatial dims of the logits (h, w for segmentation, none for
classification).

Every rule computes weights w_bm over the modalities present in sample b
(zero for absent ones, summing to 1; :class:`SumDecision`: 1 each) and
returns

    logits_b = sum_m w_bm * logits_bm        (B, K, ...)

so a sample with one present modality gets exactly that head's logits.
Weights are per sample for classification and per pixel for segmentation
((B, 1, ...), broadcast over K). Every rule computes on the device. The
task models pass the mask on the host: the check that each present
modality has logits runs there, and the presence weights are moved to the
logits' device without waiting (a device mask skips the check rather than
make the host wait).

A late-fusion model may also have a **fusion head** on the concatenated
features of every modality (DI-MML's stage 2): its logits join the stack as
one more head, present only in the samples where every modality is present
(``fusion_logits`` of :meth:`BaseDecision.forward`; rules whose weights do
not depend on which modality a head belongs to accept it).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from ..utils.checks import check_temperature

#: the name of the fusion head among the heads a rule weighs
FUSION_HEAD = 'fusion'


def _stack(modal_logits: Dict[str, torch.Tensor], mask: torch.Tensor,
           names: Sequence[str]):
    """(M', B, K, ...) logits of the computed modalities and their (M', B,
    1, ...) presence, in layout order."""
    if mask.dim() != 2 or mask.shape[1] != len(names):
        raise ValueError(f'mask must be (B, {len(names)}) for modalities '
                         f'{list(names)}, got {tuple(mask.shape)}')
    unknown = [n for n in modal_logits if n not in names]
    if unknown or not modal_logits:
        raise ValueError(f'modal_logits names {list(modal_logits)}; expected '
                         f'a non-empty subset of {list(names)}')
    cols = [names.index(n) for n in names if n in modal_logits]
    logits = torch.stack([modal_logits[names[c]] for c in cols])
    if mask.device.type == 'cpu' and len(cols) < len(names):
        # cheap on the host: a present modality must have been computed
        missing = [n for i, n in enumerate(names)
                   if n not in modal_logits and bool(mask[:, i].any())]
        if missing:
            raise ValueError(f'modalities {missing} are present in the mask '
                             'but have no logits')
    present = mask[:, cols].t().to(logits.device, non_blocking=True)
    present = present.view(present.shape + (1, ) * (logits.dim() - 2))
    return logits, present


def masked_softmax(scores: torch.Tensor, present: torch.Tensor,
                   dim: int = 0) -> torch.Tensor:
    """Softmax of ``scores`` over ``dim`` among the ``present`` entries;
    absent entries get weight exactly 0."""
    scores = scores.masked_fill(~present, float('-inf'))
    return torch.softmax(scores, dim).masked_fill(~present, 0.0)


class BaseDecision(BaseModule):
    """Combine per-modality logits under a (B, M) modality mask.

    Subclasses implement :meth:`weights`, which gets the logits and
    presence stacked over the computed modalities (``names``, in layout
    order). ``modal_logits`` may leave out a modality only where the mask
    drops it for every sample.

    Args:
        modalities (Sequence[str]): the M modality names in layout order
            (filled in by :class:`LateFusionHead`).
        init_cfg (dict, optional): mmengine initialisation config.
    """

    #: True when :meth:`forward` needs ``uncertainties``.
    needs_uncertainty = False
    #: True when the weights do not depend on which modality a head belongs
    #: to, so a fusion head can join the heads (``fusion_logits``).
    accepts_fusion_head = False

    def __init__(self, modalities: Sequence[str], init_cfg=None):
        super().__init__(init_cfg)
        self.names = tuple(modalities)

    def weights(self, logits: torch.Tensor, present: torch.Tensor,
                uncertainties: Optional[torch.Tensor],
                names: Sequence[str]) -> torch.Tensor:
        """(M', B, 1, ...) weights, zero where absent, summing to 1.

        Args:
            logits (Tensor): (M', B, K, ...) of the modalities ``names``.
            present (Tensor): (M', B, 1, ...) bool.
            uncertainties (Tensor, optional): (M', B, 1, ...).
            names (list[str]): the M' modalities, in layout order.
        """
        raise NotImplementedError

    def check_fusion_head(self, option: str) -> None:
        """Raise unless this rule can weigh a fusion head
        (``accepts_fusion_head``); the message starts with ``option``."""
        if not self.accepts_fusion_head:
            raise TypeError(
                f'{option}: the decision {type(self).__name__} weighs heads '
                'by their modality and cannot take a fusion head; use '
                'MeanDecision, SumDecision or CertaintyWeightedDecision')

    def forward(self, modal_logits: Dict[str, torch.Tensor],
                mask: torch.Tensor,
                uncertainties: Optional[Dict[str, torch.Tensor]] = None,
                fusion_logits: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """Fused logits.

        Args:
            modal_logits (dict[str, Tensor]): ``{modality: (B, K, ...)}``.
            mask (Tensor): (B, M) bool, True = present.
            uncertainties (dict[str, Tensor], optional): ``{modality: (B,
                ...)}`` per-sample (per-pixel) uncertainties, for rules with
                ``needs_uncertainty``.
            fusion_logits (Tensor, optional): (B, K, ...) logits of a fusion
                head on every modality's features; a head like the others
                in the samples where the mask has every modality, absent
                (weight 0) elsewhere. Rules with ``accepts_fusion_head``.

        Returns:
            Tensor: (B, K, ...).
        """
        logits, present = _stack(modal_logits, mask, self.names)
        names = [n for n in self.names if n in modal_logits]
        if fusion_logits is not None:
            self.check_fusion_head('fusion_logits')
            if fusion_logits.shape != logits.shape[1:]:
                raise ValueError(
                    f'fusion_logits must be shaped as each modality\'s '
                    f'logits {tuple(logits.shape[1:])}, got '
                    f'{tuple(fusion_logits.shape)}')
            every = mask.all(1).to(logits.device, non_blocking=True)
            logits = torch.cat([logits, fusion_logits[None]])
            present = torch.cat(
                [present, every.view((1, -1) + present.shape[2:])])
            names = names + [FUSION_HEAD]
        unc = None
        if self.needs_uncertainty:
            if not uncertainties or set(uncertainties) != set(modal_logits):
                raise ValueError(
                    f'{type(self).__name__} needs an uncertainty for each '
                    f'modality with logits ({sorted(modal_logits)}), got '
                    f'{sorted(uncertainties or {})}; give LateFusionHead an '
                    '`uncertainty` estimator')
            unc = torch.stack([uncertainties[n] for n in self.names
                               if n in modal_logits]).unsqueeze(2)
            want = tuple(logits.shape[1:2]) + tuple(logits.shape[3:])
            if tuple(unc.shape[1:2]) + tuple(unc.shape[3:]) != want:
                raise ValueError(
                    f'uncertainties must be (B, ...) = {want} per modality, '
                    f'got {tuple(unc.shape[1:2]) + tuple(unc.shape[3:])}')
        w = self.weights(logits, present, unc, names)
        return (w * logits).sum(0)


@MODELS.register_module()
class MeanDecision(BaseDecision):
    """The mean of the present modalities' logits.

    Example:
        >>> rule = MeanDecision(['rgb', 'depth'])
        >>> logits = {'rgb': torch.tensor([[2., 0.]]),
        ...           'depth': torch.tensor([[0., 4.]])}
        >>> rule(logits, torch.tensor([[True, True]]))
        tensor([[1., 2.]])
        >>> rule(logits, torch.tensor([[False, True]]))
        tensor([[0., 4.]])
    """

    accepts_fusion_head = True

    def weights(self, logits, present, uncertainties=None, names=()):
        p = present.to(logits.dtype)
        return p / p.sum(0, keepdim=True).clamp(min=1)


@MODELS.register_module()
class SumDecision(BaseDecision):
    """The sum of the present modalities' logits (weights 1).

    Trained with full modalities, this is the joint-training form of a
    linear classifier on concatenated features, W [f_1; ...; f_M] + b =
    sum_m (W_m f_m + b_m): one cross-entropy on the summed logits. A sample
    with one present modality gets exactly its head's logits.

    Example:
        >>> rule = SumDecision(['rgb', 'depth'])
        >>> logits = {'rgb': torch.tensor([[2., 0.]]),
        ...           'depth': torch.tensor([[0., 4.]])}
        >>> rule(logits, torch.tensor([[True, True]]))
        tensor([[2., 4.]])
        >>> rule(logits, torch.tensor([[True, False]]))
        tensor([[2., 0.]])
    """

    accepts_fusion_head = True

    def weights(self, logits, present, uncertainties=None, names=()):
        return present.to(logits.dtype)


@MODELS.register_module()
class LearnedWeightsDecision(BaseDecision):
    """Learned per-modality weights, renormalised over the present ones.

    w_bm = softmax over present m of alpha_m (alpha learned, initialised to
    0: the mean at the start).

    Args:
        modalities (Sequence[str]): the modality names in layout order.

    Example:
        >>> rule = LearnedWeightsDecision(['rgb', 'depth'])
        >>> with torch.no_grad():
        ...     _ = rule.alpha.copy_(torch.tensor([0., 1.0986123]))
        >>> logits = {'rgb': torch.tensor([[4., 0.]]),
        ...           'depth': torch.tensor([[0., 4.]])}
        >>> out = rule(logits, torch.tensor([[True, True]]))  # w = 1/4, 3/4
        >>> [round(v, 4) for v in out[0].tolist()]
        [1.0, 3.0]
    """

    def __init__(self, modalities: Sequence[str], init_cfg=None):
        super().__init__(modalities, init_cfg)
        self.alpha = nn.Parameter(torch.zeros(len(self.names)))

    def weights(self, logits, present, uncertainties=None, names=()):
        cols = [self.names.index(n) for n in names]
        alpha = self.alpha[cols].view(-1, *[1] * (present.dim() - 1))
        return masked_softmax(alpha.expand(present.shape).to(logits.dtype),
                              present)


class _TemperatureDecision(BaseDecision):
    """A decision rule with a softmax temperature T > 0 (``temperature``)."""

    def __init__(self, modalities: Sequence[str], temperature: float = 1.0,
                 init_cfg=None):
        super().__init__(modalities, init_cfg)
        self.temperature = check_temperature(
            temperature, f'{type(self).__name__}.temperature')


@MODELS.register_module()
class CertaintyWeightedDecision(_TemperatureDecision):
    """Weights from each head's confidence: w = softmax over present m of
    c_bm / T, c_bm = max_k softmax(logits_bm)_k (per pixel for
    segmentation). The confidences are not back-propagated through.

    Args:
        modalities (Sequence[str]): the modality names in layout order.
        temperature (float): T > 0; small T approaches picking the most
            confident head, large T the mean.

    Example:
        >>> rule = CertaintyWeightedDecision(['rgb', 'depth'],
        ...                                  temperature=1.0)
        >>> logits = {'rgb': torch.tensor([[9., 0.]]),
        ...           'depth': torch.tensor([[0., 0.]])}
        >>> out = rule(logits, torch.tensor([[True, True]]))
        >>> bool(out[0, 0] > 4.5)  # the confident rgb head weighs more
        True
    """

    accepts_fusion_head = True

    def weights(self, logits, present, uncertainties=None, names=()):
        conf = logits.detach().softmax(2).amax(2, keepdim=True)
        return masked_softmax(conf / self.temperature, present)


@MODELS.register_module()
class UncertaintyWeightedDecision(_TemperatureDecision):
    """Weights from per-modality uncertainties u_bm >= 0 that the method
    supplies: w = softmax over present m of -u_bm / T (lower uncertainty,
    larger weight).

    Args:
        modalities (Sequence[str]): the modality names in layout order.
        temperature (float): T > 0.

    Example:
        >>> rule = UncertaintyWeightedDecision(['rgb', 'depth'])
        >>> logits = {'rgb': torch.tensor([[2., 0.]]),
        ...           'depth': torch.tensor([[0., 2.]])}
        >>> unc = {'rgb': torch.tensor([0.]), 'depth': torch.tensor([0.])}
        >>> rule(logits, torch.tensor([[True, True]]), unc)
        tensor([[1., 1.]])
    """

    needs_uncertainty = True

    def weights(self, logits, present, uncertainties=None, names=()):
        return masked_softmax(-uncertainties.to(logits.dtype) /
                              self.temperature, present)


@MODELS.register_module()
class PredictiveEntropy(nn.Module):
    """A per-modality uncertainty: the entropy of softmax(logits) over K.

    ``forward(logits (B, K, ...)) -> (B, ...)``; usable as the
    ``uncertainty`` of :class:`LateFusionHead` with
    :class:`UncertaintyWeightedDecision`.

    Example:
        >>> u = PredictiveEntropy()(torch.zeros(1, 4))
        >>> round(float(u), 4)  # log 4
        1.3863
    """

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        logp = logits.log_softmax(1)
        return -(logp.exp() * logp).sum(1)
