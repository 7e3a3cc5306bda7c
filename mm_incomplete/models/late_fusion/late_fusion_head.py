"""Late fusion: one task head per modality and a decision rule.

Shorthand: B batch, M modalities, K classes, C_i channels of stage i,
h x w the head's output size.

Late fusion is a first-class form of the task models: with a
:class:`LateFusionHead` as ``decode_head`` (segmentation) or ``head``
(classification), the model takes each modality's features from the
backbone's ``encode`` (before any fusion), runs the neck and that
modality's head on them, and combines the per-modality logits with the
decision rule under the mask. In every-combination evaluation each modality's
encoder and head run once per batch and only the decision runs per
combination.

An optional **fusion head** (DI-MML's stage 2) reads the per-modality
features concatenated along the channels, stage by stage (classification:
the pooled (B, sum_m D_m); segmentation: (B, sum_m C_i, h_i, w_i) per stage),
and joins the decision as one more head in the samples where every modality
is present.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule, ModuleDict
from mmengine.registry import MODELS

from mm_incomplete.modality import ModalityLayout
from ..utils.task_modules import build_task_module
from .decisions import BaseDecision


@MODELS.register_module()
class LateFusionHead(BaseModule):
    """Per-modality task heads combined by a decision rule.

    Args:
        head (dict): the task head of one modality (an mmseg decode head or
            an mmpretrain classification head); one copy is built per
            modality.
        modalities (str | dict): the model's modality layout; a task model
            (or distiller) fills it in from its data preprocessor.
        decision (dict): the decision rule, a :class:`BaseDecision` config,
            e.g. ``dict(type='CertaintyWeightedDecision', temperature=1.0)``;
            ``modalities`` is filled in.
        uncertainty (dict, optional): a module mapping a modality's logits
            (B, K, ...) to its uncertainty (B, ...), e.g.
            ``dict(type='PredictiveEntropy')``; needed by
            :class:`UncertaintyWeightedDecision` unless the caller passes
            uncertainties.
        task (str, optional): ``'seg'`` or ``'cls'`` where the head type
            does not tell.
        fused_loss (bool): train on the task loss of the fused logits
            (default). False leaves the task model without a task loss of
            its own: per-modality objectives come from method losses (e.g.
            :class:`UnimodalTaskLoss`, DI-MML's detached training).
        fusion_head (dict, optional): a task head of the same task on the
            concatenated features of every modality (its ``in_channels``
            the sum over modalities), used by the decision only where every
            modality is present; trained by a method loss
            (:class:`FusionHeadLoss`). The decision rule must accept it
            (``accepts_fusion_head``: mean, sum, certainty-weighted).
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> head = LateFusionHead(
        ...     head=dict(type='LinearClsHead', num_classes=3, in_channels=8),
        ...     modalities=dict(rgb=3, depth=1),
        ...     decision=dict(type='MeanDecision'))
        >>> logits = head.forward_modal({'rgb': (torch.rand(2, 8), ),
        ...                              'depth': (torch.rand(2, 8), )})
        >>> mask = torch.tensor([[True, True], [False, True]])
        >>> out = head.decide(logits, mask)
        >>> torch.equal(out[1], logits['depth'][1])  # only depth present
        True
    """

    def __init__(self,
                 head: dict,
                 modalities=None,
                 decision: dict = dict(type='MeanDecision'),
                 uncertainty: Optional[dict] = None,
                 task: Optional[str] = None,
                 fused_loss: bool = True,
                 fusion_head: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.fused_loss = bool(fused_loss)
        self.layout = ModalityLayout(modalities, 'LateFusionHead.modalities')
        heads = {}
        for name in self.layout.names:
            heads[name], self.task = build_task_module(
                head, 'LateFusionHead.head', task)
        if self.task is None:
            raise ValueError('LateFusionHead: cannot tell the task of head '
                             f'{head.get("type")!r}; pass task=seg|cls')
        self.heads = ModuleDict(heads)
        if not isinstance(decision, dict) or 'type' not in decision:
            raise TypeError('LateFusionHead.decision must be a config dict, '
                            f'got {decision!r}')
        self.decision = MODELS.build(
            dict(decision, modalities=self.layout.names))
        if not isinstance(self.decision, BaseDecision):
            raise TypeError(f'LateFusionHead.decision must build a '
                            f'BaseDecision, got '
                            f'{type(self.decision).__name__}')
        self.uncertainty = MODELS.build(uncertainty) if uncertainty else None
        self.fusion_head = None
        if fusion_head is not None:
            self.decision.check_fusion_head('LateFusionHead.fusion_head')
            self.fusion_head, _ = build_task_module(
                fusion_head, 'LateFusionHead.fusion_head', self.task)
        first = self.heads[self.layout.names[0]]
        for attr in ('align_corners', 'num_classes', 'out_channels'):
            if hasattr(first, attr):  # what mmseg's EncoderDecoder reads
                setattr(self, attr, getattr(first, attr))

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in ('align_corners', 'num_classes', 'out_channels'):
                raise ValueError(
                    f'LateFusionHead holds {self.task} heads, which have no '
                    f'`{name}`; a segmentor needs seg heads (e.g. FCNHead)'
                ) from None
            raise

    @property
    def template(self):
        """The first modality's head: its loss / post-processing serve the
        fused logits."""
        return self.heads[self.layout.names[0]]

    def forward_modal(self, modal_feats: Dict[str, Sequence[torch.Tensor]]
                      ) -> Dict[str, torch.Tensor]:
        """``{modality: features}`` -> ``{modality: logits}``; each head runs
        once, on every sample (absent samples' logits are ignored by the
        decision)."""
        unknown = [n for n in modal_feats if n not in self.heads]
        if unknown:
            raise KeyError(f'LateFusionHead has no head for {unknown} '
                           f'(modalities {list(self.layout.names)})')
        return {n: self.heads[n](f) for n, f in modal_feats.items()}

    def fusion_inputs(self, modal_feats: Dict[str, Sequence[torch.Tensor]]
                      ) -> Tuple[torch.Tensor, ...]:
        """The fusion head's input: every modality's features (layout
        order) concatenated along the channels, stage by stage."""
        missing = [n for n in self.layout.names if n not in modal_feats]
        if missing:
            raise KeyError(f'LateFusionHead.fusion_head needs the features '
                           f'of every modality; {missing} are missing')
        stages = [tuple(modal_feats[n]) for n in self.layout.names]
        if len({len(f) for f in stages}) != 1:
            raise ValueError('LateFusionHead.fusion_head: the modalities '
                             'have different numbers of stages '
                             f'{[len(f) for f in stages]}')
        feats = tuple(torch.cat(level, dim=1) for level in zip(*stages))
        self._check_fusion_channels(feats, modal_feats)
        return feats

    def _check_fusion_channels(self, feats, modal_feats) -> None:
        """The fusion head's ``in_channels`` against the concatenation's
        (the stages it reads: its ``in_index`` for a decode head, the last
        for a classification head)."""
        want = getattr(self.fusion_head, 'in_channels', None)
        index = getattr(self.fusion_head, 'in_index', None)
        if isinstance(want, int):  # one stage: in_index (seg) or the last
            index, want = [len(feats) - 1 if index is None else index], [want]
        elif isinstance(want, (list, tuple)):
            index = list(range(len(feats))) if index is None else \
                list(index) if isinstance(index, (list, tuple)) else [index]
            want = list(want)
        else:
            return
        got = [feats[i].shape[1] for i in index]
        if got != want:
            per = {n: [tuple(f)[i].shape[1] for i in index]
                   for n, f in modal_feats.items()}
            raise ValueError(
                f'LateFusionHead.fusion_head.in_channels is {want} (stages '
                f'{index}), but the concatenated features have {got} '
                f'channels (per modality {per}): give the sum over '
                'modalities')

    def forward_fusion(self, modal_feats: Dict[str, Sequence[torch.Tensor]]
                       ) -> torch.Tensor:
        """Logits of the fusion head on the concatenated features of every
        modality (each modality's neck output)."""
        if self.fusion_head is None:
            raise RuntimeError('LateFusionHead has no fusion_head')
        return self.fusion_head(self.fusion_inputs(modal_feats))

    def uncertainties(self, modal_logits: Dict[str, torch.Tensor]
                      ) -> Optional[Dict[str, torch.Tensor]]:
        if self.uncertainty is None:
            return None
        return {n: self.uncertainty(l) for n, l in modal_logits.items()}

    def decide(self, modal_logits: Dict[str, torch.Tensor],
               mask: torch.Tensor,
               uncertainties: Optional[Dict[str, torch.Tensor]] = None,
               fusion_logits: Optional[torch.Tensor] = None
               ) -> torch.Tensor:
        """Fused logits (B, K, ...) of ``modal_logits`` (and the fusion
        head's ``fusion_logits``) under ``mask`` (B, M); ``uncertainties``
        default to the ``uncertainty`` estimator's.

        A model with a fusion head must pass its logits wherever the mask
        has every modality in some sample (checked for a host mask)."""
        if uncertainties is None and self.decision.needs_uncertainty:
            uncertainties = self.uncertainties(modal_logits)
        if self.fusion_head is not None and fusion_logits is None and \
                mask.device.type == 'cpu' and bool(mask.all(1).any()):
            raise ValueError(
                'LateFusionHead has a fusion_head: pass its logits '
                '(fusion_logits, from forward_fusion) where every modality '
                'is present')
        return self.decision(modal_logits, mask, uncertainties,
                             fusion_logits=fusion_logits)

    def forward(self, *args, **kwargs):
        raise RuntimeError(
            'LateFusionHead needs per-modality features: use it as the '
            'decode_head / head of MultiModalEncoderDecoder / '
            'MultiModalImageClassifier, which call forward_modal and decide')

    # -- the task head's loss and post-processing on the fused logits -----
    def loss_by_feat(self, seg_logits, batch_data_samples):
        return self.template.loss_by_feat(seg_logits, batch_data_samples)

    def predict_by_feat(self, seg_logits, batch_img_metas):
        return self.template.predict_by_feat(seg_logits, batch_img_metas)

    def _get_loss(self, cls_score, data_samples, **kwargs):
        return self.template._get_loss(cls_score, data_samples, **kwargs)

    def _get_predictions(self, cls_score, data_samples):
        return self.template._get_predictions(cls_score, data_samples)

    def modal_names(self) -> List[str]:
        return list(self.layout.names)
