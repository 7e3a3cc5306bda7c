"""DI-MML's objectives. Stage 1 (detached, per modality): each modality's
own head and one head shared by every modality; stage 2: the fusion head.

Shorthand: B batch, M modalities, K classes, C_i channels of stage i, h x w
a head's output size, H x W the label size, n the samples where a modality
is present.

Detached and Interactive Multimodal Learning (Wang et al., ACM MM 2024)
trains each modality's encoder with its own objective,

    L = sum_m CE(h_m(f_m)) + w * sum_m CE(g(f_m)) (+ L_DUC),

h_m the modality's own head (a :class:`LateFusionHead` holds them; its
fused-logit loss is switched off with ``fused_loss=False``) and g one head
applied to every modality's feature: the only place where the modalities
meet in a common feature space. Each term averages over the samples where
the modality is present (segmentation: over their labelled pixels), so a
sample contributes only for its present modalities. Which rows are present
is read from the record's host mask: no synchronisation.

Stage 2 trains only a concat-fusion head (encoders and unimodal heads
frozen) with CE(h_fusion([f_1; ...; f_M])) over the samples where every
modality is present (:class:`FusionHeadLoss`).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from ..utils.task_modules import build_task_module, task_of
from .base import BaseMethodLoss
from .record import ForwardRecord


def stack_labels(data_samples: Sequence, task: str,
                 device: torch.device) -> torch.Tensor:
    """Labels of the batch: (B, ) class ids (cls) or (B, H, W) maps (seg)."""
    if task == 'cls':
        labels = [s.gt_label.reshape(-1)[:1] for s in data_samples]
        return torch.cat(labels).to(device, non_blocking=True).long()
    return torch.stack([s.gt_sem_seg.data.reshape(s.gt_sem_seg.shape)
                        for s in data_samples]).to(
                            device, non_blocking=True).long()


def task_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                       ignore_index: int = 255,
                       loss_fn: Optional[nn.Module] = None) -> torch.Tensor:
    """Cross-entropy of logits (n, K) against (n, ), or of logits (n, K, h,
    w) resized (bilinear) to labels (n, H, W): the mean over non-ignored
    labels, or ``loss_fn(logits, labels)`` (a task loss module, e.g. the
    class-weighted one of the task head; segmentation passes it
    ``ignore_index``)."""
    if logits.dim() == 4 and logits.shape[2:] != labels.shape[1:]:
        logits = F.interpolate(logits, size=labels.shape[1:],
                               mode='bilinear', align_corners=False)
    if loss_fn is None:
        return F.cross_entropy(logits.float(), labels,
                               ignore_index=ignore_index)
    if logits.dim() == 4:
        return loss_fn(logits.float(), labels, ignore_index=ignore_index)
    return loss_fn(logits.float(), labels)


def present_rows(record: ForwardRecord, name: str) -> torch.Tensor:
    """(n, ) host indices of the samples where ``name`` is present."""
    return record.host_mask[:, record.layout.index(name)].nonzero().flatten()


class _ModalityCE(BaseMethodLoss):
    """A cross-entropy per present modality on per-modality logits
    (``loss``: a task loss config instead of the plain one)."""

    def __init__(self, ignore_index: int = 255, loss: Optional[dict] = None,
                 loss_weight: float = 1.0, init_cfg: Optional[dict] = None):
        super().__init__(loss_weight, init_cfg)
        self.ignore_index = ignore_index
        self.loss_fn = None
        if loss is not None:
            option = f'{type(self).__name__}.loss'
            if task_of(loss, option) is None and '_scope_' not in loss:
                raise ValueError(
                    f'`{option}` type {loss.get("type")!r} is registered by '
                    "both mmseg and mmpretrain: add _scope_='mmseg' or "
                    "_scope_='mmpretrain'")
            self.loss_fn, _ = build_task_module(loss, option)

    def _losses(self, record: ForwardRecord, logits_of, prefix: str
                ) -> Dict[str, torch.Tensor]:
        labels = None
        losses = {}
        for name in record.layout.names:
            rows = present_rows(record, name)
            if rows.numel() == 0:
                continue
            if labels is None:
                labels = stack_labels(record.data_samples, record.task,
                                      record.inputs.device)
            dev_rows = rows.to(record.inputs.device, non_blocking=True)
            logits = logits_of(name, rows, dev_rows)
            losses[f'{prefix}_{name}'] = self.scaled(task_cross_entropy(
                logits, labels.index_select(0, dev_rows), self.ignore_index,
                self.loss_fn))
        return losses


@MODELS.register_module()
class UnimodalTaskLoss(_ModalityCE):
    """sum_m CE(h_m(f_m)): each modality's head on its present samples.

    Needs a late-fusion model (``record.modal_logits``); pair it with
    ``LateFusionHead(fused_loss=False)`` for detached training (otherwise
    the fused logits' loss couples the modalities again).

    Args:
        ignore_index (int): label ignored in segmentation. Defaults to 255.
        loss (dict, optional): a task loss config used instead of the plain
            cross-entropy, e.g. the heads' class-weighted
            ``FileWeightedCrossEntropyLoss`` (mmseg's / mmpretrain's
            ``CrossEntropyLoss`` need ``_scope_``).
        loss_weight (float): factor of every term. Defaults to 1.

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> from mm_incomplete.modality import ModalityLayout
        >>> layout = ModalityLayout(dict(rgb=3, depth=1))
        >>> mask = torch.tensor([[True, True], [True, False]])
        >>> rec = ForwardRecord(
        ...     task='cls', layout=layout, mask=mask, host_mask=mask,
        ...     inputs=torch.zeros(2, 4, 8, 8),
        ...     data_samples=[DataSample().set_gt_label(1),
        ...                   DataSample().set_gt_label(0)],
        ...     modal_logits={'rgb': torch.zeros(2, 3),
        ...                   'depth': torch.zeros(2, 3)})
        >>> out = UnimodalTaskLoss()(rec)   # depth: first sample only
        >>> sorted(out), round(out['loss_ce_depth'].item(), 4)
        (['loss_ce_depth', 'loss_ce_rgb'], 1.0986)
    """

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        modal_logits = record.get('modal_logits')
        return self._losses(
            record,
            lambda name, rows, dev_rows: modal_logits[name].index_select(
                0, dev_rows),
            'loss_ce')


@MODELS.register_module()
class SharedHeadLoss(_ModalityCE):
    """w * sum_m CE(g(f_m)): one head g applied to every modality's features.

    Args:
        head (dict): the shared head, a task head config (mmpretrain
            ``LinearClsHead`` on pooled features, mmseg decode head on the
            stage features).
        pool (bool): global-average-pool each stage feature first (for a
            classification head). Defaults to True for classification
            heads, False for decode heads.
        ignore_index (int): label ignored in segmentation. Defaults to 255.
        loss (dict, optional): a task loss config instead of the plain
            cross-entropy (see :class:`UnimodalTaskLoss`).
        loss_weight (float): w. Defaults to 1 (the release).

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> from mm_incomplete.modality import ModalityLayout
        >>> layout = ModalityLayout(dict(rgb=3, depth=1))
        >>> mask = torch.ones(2, 2, dtype=torch.bool)
        >>> loss = SharedHeadLoss(head=dict(type='LinearClsHead',
        ...                                 num_classes=3, in_channels=8))
        >>> rec = ForwardRecord(
        ...     task='cls', layout=layout, mask=mask, host_mask=mask,
        ...     inputs=torch.zeros(2, 4, 8, 8),
        ...     data_samples=[DataSample().set_gt_label(1)] * 2,
        ...     modal_feats={'rgb': [torch.rand(2, 8, 2, 2)],
        ...                  'depth': [torch.rand(2, 8, 2, 2)]})
        >>> sorted(loss(rec))
        ['loss_shared_depth', 'loss_shared_rgb']
    """

    def __init__(self, head: dict, pool: Optional[bool] = None,
                 ignore_index: int = 255, loss: Optional[dict] = None,
                 loss_weight: float = 1.0, init_cfg: Optional[dict] = None):
        super().__init__(ignore_index, loss, loss_weight, init_cfg)
        self.head, self.head_task = build_task_module(head,
                                                      'SharedHeadLoss.head')
        self.pool = (self.head_task == 'cls') if pool is None else pool

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        modal_feats = record.get('modal_feats')

        def logits_of(name, rows, dev_rows):
            feats = [f.index_select(0, dev_rows) for f in modal_feats[name]]
            if rows.numel() == 1 and self.training:
                # BatchNorm in the head needs two values per channel
                feats = [f.repeat(2, *[1] * (f.dim() - 1)) for f in feats]
            if self.pool:
                feats = [f.mean((2, 3)) if f.dim() == 4 else f for f in feats]
            out = self.head(tuple(feats))
            return out[:rows.numel()]

        return self._losses(record, logits_of, 'loss_shared')


@MODELS.register_module()
class FusionHeadLoss(_ModalityCE):
    """CE(h_fusion([f_1; ...; f_M])): the fusion head of a
    :class:`LateFusionHead` (``fusion_head``) on the samples where every
    modality is present (DI-MML's stage 2; the release trains it alone,
    with encoders and unimodal heads frozen).

    Args:
        ignore_index (int): label ignored in segmentation. Defaults to 255.
        loss (dict, optional): a task loss config instead of the plain
            cross-entropy (see :class:`UnimodalTaskLoss`).
        loss_weight (float): factor. Defaults to 1.

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> from mm_incomplete.modality import ModalityLayout
        >>> layout = ModalityLayout(dict(rgb=3, depth=1))
        >>> mask = torch.tensor([[True, True], [True, False]])
        >>> rec = ForwardRecord(
        ...     task='cls', layout=layout, mask=mask, host_mask=mask,
        ...     inputs=torch.zeros(2, 4, 8, 8),
        ...     data_samples=[DataSample().set_gt_label(1),
        ...                   DataSample().set_gt_label(0)],
        ...     fusion_logits=torch.tensor([[0., 0., 0.], [9., 0., 0.]]))
        >>> out = FusionHeadLoss()(rec)   # the first sample only
        >>> round(out['loss_ce_fusion'].item(), 4)
        1.0986
    """

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        rows = record.host_mask.all(1).nonzero().flatten()
        if rows.numel() == 0:
            return {}  # no sample with every modality: the head did not run
        logits = record.get('fusion_logits')
        labels = stack_labels(record.data_samples, record.task,
                              record.inputs.device)
        dev_rows = rows.to(record.inputs.device, non_blocking=True)
        return dict(loss_ce_fusion=self.scaled(task_cross_entropy(
            logits.index_select(0, dev_rows), labels.index_select(0, dev_rows),
            self.ignore_index, self.loss_fn)))
