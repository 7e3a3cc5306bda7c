"""A second task head trained on the samples of selected combinations only.

Shorthand: B batch, M modalities, B_s selected samples, C_i channels of
level i, K classes.

DMRNet's hard-combination regularizer (ECCV 2024) and MMANet's
modality-aware regularization (MAR, CVPR 2023) are one mechanism: an
auxiliary head (a decoder in segmentation, a classifier in classification)
on the shared features, whose task loss counts only the samples of a few
modality combinations so that training does not neglect them. They differ in
how the combinations are chosen: named in the config, mined from a
per-sample score during training (DMRNet: the largest mean embedding
variance, ``mining_score='embedding_variance'``), or from validation drops
(MMANet: :class:`WeakCombinationMiningHook`). The chosen set lives in the
persistent buffers of a :class:`CombinationSelector`: it is saved in every
checkpoint and restored on resume.

Samples of other combinations take no part: the inner head runs on the
selected rows only (their features get exactly zero gradient from it and its
BatchNorm statistics come from the selected samples). Which rows is decided
on the host copy of the mask (no synchronisation). With no selected sample
(or ``loss_scale == 0``) the head does not run and its losses are zeros that
keep every parameter in the graph (DDP needs that); in distributed training
it then runs on the whole batch with its loss multiplied by 0, so that
SyncBN's collectives stay in step. A single selected sample is passed twice
(BatchNorm needs more than one value per channel on pyramid-pooled 1x1
maps), which gives the loss of that sample.
"""
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from mmengine import dist
from mmengine.registry import MODELS

from ..necks.probabilistic_embedding import ProbabilisticEmbedding
from ..utils.combination_selection import CombinationSelector
from ..utils.task_modules import build_task_module
from .base import BaseMethodLoss
from .record import ForwardRecord


def embedding_variance_score(record: ForwardRecord) -> torch.Tensor:
    """DMRNet's mining score: each sample's mean sigma^2 over channels and
    pixels, averaged over the embedded levels; (B,)."""
    stats = record.get('extras.embedding_stats')
    return torch.stack([ProbabilisticEmbedding.mean_variance(s.logvar)
                        for s in stats]).mean(0)


#: per-sample mining scores by name: ``f(record) -> (B,)``
MINING_SCORES: Dict[str, Callable[[ForwardRecord], torch.Tensor]] = dict(
    embedding_variance=embedding_variance_score)


def head_loss_names(head, task: str) -> List[str]:
    """The loss keys the inner head returns (for its zero losses)."""
    if task == 'seg':
        losses = head.loss_decode
        losses = losses if isinstance(losses, torch.nn.ModuleList) \
            else [losses]
        return sorted({m.loss_name for m in losses})
    return ['loss']


def selected_subset_loss(selector: CombinationSelector, head,
                         feats: Sequence[torch.Tensor], data_samples,
                         host_mask: torch.Tensor, loss_fn, loss_names,
                         scale: float) -> Dict[str, torch.Tensor]:
    """``loss_fn(feats, samples)`` on the selected samples, times ``scale``.

    Args:
        selector (CombinationSelector): the selected combinations.
        head (nn.Module): the inner head (for zero losses in the graph).
        feats (list[Tensor]): levels (B, ...) of the features.
        data_samples (list): the B samples.
        host_mask (Tensor): (B, M) bool on the CPU.
        loss_fn (callable): ``(feats, samples) -> loss dict``.
        loss_names (list[str]): keys of the zero losses.
        scale (float): the warm-up factor (0: nothing runs).
    """
    if scale == 0:  # the same on every rank
        zero = sum(p.sum() for p in head.parameters()) * 0.0
        return {name: zero for name in loss_names}
    batch = host_mask.shape[0]
    keep = selector.sample_mask(host_mask)  # host (B,) bool
    index = keep.nonzero().flatten()  # host: no synchronisation
    if index.numel() == 0:
        if dist.get_world_size() > 1:
            # run anyway so that collective layers (SyncBN) stay in step
            # with the ranks that have selected samples
            losses = loss_fn(list(feats), data_samples)
            return {k: v * 0.0 for k, v in losses.items() if 'loss' in k}
        zero = sum(p.sum() for p in head.parameters()) * 0.0
        return {name: zero for name in loss_names}
    if index.numel() == 1:
        # BatchNorm needs more than one value per channel (pyramid pooling
        # gives 1x1 maps): two copies of the sample normalise like a batch
        # of one and give the same mean loss
        index = index.repeat(2)
    elif index.numel() == batch:
        index = None  # every sample is selected
    feats = list(feats)
    if index is not None:
        device_index = index.to(feats[-1].device, non_blocking=True)
        feats = [f.index_select(0, device_index) for f in feats]
        data_samples = [data_samples[i] for i in index.tolist()]
    return {k: v * scale if 'loss' in k else v
            for k, v in loss_fn(feats, data_samples).items()}


@MODELS.register_module()
class CombinationRegularizer(BaseMethodLoss):
    """An auxiliary task head whose loss counts only selected combinations.

    One class for segmentation and classification (the inner head's type
    tells which). Its losses are logged as ``<prefix>.<key>``.

    Args:
        head (dict): the inner head: an mmseg decode head (its
            ``loss_decode`` weight is the regularizer's weight; DMRNet on
            NYUDv2: 0.5) or an mmpretrain head (its ``loss`` weight; DMRNet:
            0.3).
        modalities (str | dict): the model's modality layout; a task model
            (or distiller) fills it in from its data preprocessor.
        combinations (str | list[str] | None): the selected combinations
            (e.g. ``['depth']``); ``None`` to mine them
            (:class:`CombinationMiningHook` with ``mining_score``, or
            :class:`WeakCombinationMiningHook`).
        selector_cfg (dict, optional): more :class:`CombinationSelector`
            arguments (``candidates``, ``num_selected``, ``rule``).
        inputs (str): the record field the head reads: ``'neck_feats'``
            (what the task head saw; DMRNet) or ``'fused_feats'`` (the
            backbone output; MMANet's regularization network).
        prefix (str): log-key prefix. Defaults to ``'aux'``.
        mining_score (str | callable, optional): per-sample score fed to
            the selector while it mines, a key of :data:`MINING_SCORES`
            (``'embedding_variance'``: DMRNet) or ``f(record) -> (B,)``.
        task (str, optional): ``'seg'`` / ``'cls'`` where the head type does
            not tell.
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> from mm_incomplete.modality import ModalityLayout
        >>> reg = CombinationRegularizer(
        ...     head=dict(type='LinearClsHead', num_classes=3, in_channels=8),
        ...     modalities=dict(rgb=3, depth=1), combinations=['depth'])
        >>> mask = torch.tensor([[True, True], [False, True]])
        >>> rec = ForwardRecord(
        ...     task='cls', layout=ModalityLayout(dict(rgb=3, depth=1)),
        ...     mask=mask, host_mask=mask, inputs=torch.zeros(2, 4, 8, 8),
        ...     data_samples=[DataSample().set_gt_label(1)
        ...                   for _ in range(2)],
        ...     neck_feats=(torch.randn(2, 8), ))
        >>> sorted(reg(rec))
        ['aux.loss']
    """

    INPUTS = ('neck_feats', 'fused_feats')

    def __init__(self,
                 head: dict,
                 modalities=None,
                 combinations=None,
                 selector_cfg: Optional[dict] = None,
                 inputs: str = 'neck_feats',
                 prefix: str = 'aux',
                 mining_score: Union[None, str, Callable] = None,
                 task: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(1.0, init_cfg)
        self.head, self.task = build_task_module(
            head, 'CombinationRegularizer.head', task)
        if self.task is None:
            raise ValueError('CombinationRegularizer: cannot tell the task of '
                             f'head {head.get("type")!r}; pass task=seg|cls')
        self.selector = CombinationSelector(
            modalities, combinations, option='combinations',
            **(selector_cfg or {}))
        if inputs not in self.INPUTS:
            raise ValueError(f'CombinationRegularizer.inputs must be one of '
                             f'{self.INPUTS}, got {inputs!r}')
        self.inputs = inputs
        self.prefix = prefix
        if isinstance(mining_score, str):
            if mining_score not in MINING_SCORES:
                raise KeyError(
                    f'CombinationRegularizer.mining_score {mining_score!r} '
                    f'is not one of {sorted(MINING_SCORES)}')
            mining_score = MINING_SCORES[mining_score]
        self.mining_score = mining_score
        self.loss_names = head_loss_names(self.head, self.task)

    def _head_loss(self, feats, samples):
        if self.task == 'seg':
            return self.head.loss(feats, samples, dict())
        return self.head.loss(tuple(feats), samples)

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        if record.task != self.task:
            raise ValueError(f'CombinationRegularizer holds a {self.task} '
                             f'head but the model is a {record.task} model')
        if self.selector.mining and self.mining_score is not None:
            self.selector.accumulate(self.mining_score(record),
                                     record.host_mask)
        losses = selected_subset_loss(
            self.selector, self.head, record.get(self.inputs),
            record.data_samples, record.host_mask, self._head_loss,
            self.loss_names, self.loss_weight * self.loss_scale)
        return {f'{self.prefix}.{k}': v for k, v in losses.items()}
