"""An auxiliary head whose task loss counts only the selected combinations.

Shorthand: B batch, M modalities, B_s selected samples, C channels,
H x W spatial size.

DMRNet's hard-combination regularizer and MMANet's modality-aware
regularization both add a second head (a decoder in segmentation, a
classifier in classification) on the shared features and train it on the
samples of a few modality combinations only, so that training does not
neglect them. The wrappers here hold such a head and a
:class:`~mm_incomplete.models.utils.CombinationSelector`; in ``loss`` they
keep the samples whose modality mask (``data_sample.modality_mask``) belongs
to the selected set, run the inner head on those samples only and return its
losses, scaled by ``loss_scale`` (set by
:class:`~mm_incomplete.engine.hooks.LossScaleWarmupHook`). Samples of other
combinations take no part: their features get exactly zero gradient from
this head, and the head's BatchNorm statistics come from the selected
samples. With no selected sample in the batch (or ``loss_scale == 0``) the
head does not run and its loss is a zero that keeps every parameter in the
graph (DDP needs that); in distributed training it runs on the whole batch
with its loss multiplied by 0, so that SyncBN's collectives stay in step. A
single selected sample is passed twice (BatchNorm needs more than one value
per channel on pyramid-pooled 1x1 maps), which gives the loss of that
sample.

The weight of the term is the inner head's loss weight
(``loss_decode=dict(..., loss_weight=0.5)``, ``loss=dict(...,
loss_weight=0.3)``).
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS

from mm_incomplete.modality import stack_modality_masks
from ..methods.combination_regularizer import (head_loss_names,
                                               selected_subset_loss)
from ..utils import CombinationSelector


class _CombinationRegularizerMixin:
    """Selection, sub-batching and scaling shared by the two task heads."""

    def _build(self, head: dict, registry, modalities, combinations,
               selector_cfg: Optional[dict]) -> None:
        if not isinstance(head, dict) or 'type' not in head:
            raise TypeError(f'{type(self).__name__}: `head` must be a config '
                            f'dict with a `type`, got {head!r}')
        # the inner head belongs to the task's library whatever the default
        # scope of the caller (an mmpretrain head built under mmseg's scope
        # would not be found)
        head = dict(head)
        head.setdefault('_scope_', registry.scope)
        self.head = registry.build(head)
        self.selector = CombinationSelector(
            modalities, combinations, option='combinations',
            **(selector_cfg or {}))
        self.loss_scale = 1.0

    def _subset_loss(self, feats: Sequence[torch.Tensor], data_samples,
                     loss_fn) -> Dict[str, torch.Tensor]:
        batch_size = feats[-1].shape[0]
        # the host copy of the mask: selection reads nothing from the device
        host_mask = stack_modality_masks(data_samples, batch_size,
                                         len(self.selector.layout), 'cpu')
        return selected_subset_loss(self.selector, self.head, feats,
                                    data_samples, host_mask, loss_fn,
                                    self._loss_names(), self.loss_scale)

    def _loss_names(self) -> List[str]:  # pragma: no cover - per task
        raise NotImplementedError


@SEG_MODELS.register_module()
class CombinationRegularizerSegHead(_CombinationRegularizerMixin, BaseModule):
    """A segmentation auxiliary head trained on selected combinations only.

    Put it in the segmentor's ``auxiliary_head``.

    Args:
        head (dict): the inner mmseg decode head (e.g. ``FCNHead``); its
            ``loss_decode`` weight is the weight of the regularizer (DMRNet
            on NYUDv2: 0.5).
        modalities (str | dict): the model's modality layout; a task model
            (or distiller) fills it in from its data preprocessor.
        combinations (str | list[str] | None): the selected combinations
            (DMRNet's hard ones, e.g. ``['depth']``); ``None`` to mine them
            with :class:`CombinationMiningHook`.
        selector_cfg (dict, optional): more :class:`CombinationSelector`
            arguments (``candidates``, ``num_selected``, ``rule``).
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> from mmseg.structures import SegDataSample
        >>> from mmengine.structures import PixelData
        >>> from mm_incomplete.modality import set_modality_masks
        >>> head = CombinationRegularizerSegHead(
        ...     head=dict(type='FCNHead', in_channels=8, channels=8,
        ...               num_convs=1, num_classes=3, in_index=-1),
        ...     modalities=dict(rgb=3, depth=1), combinations=['depth'])
        >>> samples = [SegDataSample(gt_sem_seg=PixelData(
        ...     data=torch.zeros(1, 8, 8, dtype=torch.long)))
        ...     for _ in range(2)]
        >>> set_modality_masks(samples, torch.tensor([[1, 1], [0, 1]]).bool())
        >>> losses = head.loss([torch.randn(2, 8, 4, 4)], samples, None)
        >>> sorted(losses)
        ['acc_seg', 'loss_ce']
    """

    def __init__(self,
                 head: dict,
                 modalities=None,
                 combinations=None,
                 selector_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        BaseModule.__init__(self, init_cfg)
        self._build(head, SEG_MODELS, modalities, combinations, selector_cfg)
        # attributes mmseg's EncoderDecoder reads from its heads
        self.align_corners = self.head.align_corners
        self.num_classes = self.head.num_classes
        self.out_channels = self.head.out_channels

    def _loss_names(self) -> List[str]:
        return head_loss_names(self.head, 'seg')

    def forward(self, inputs):
        """The inner head's logits for every sample (no selection)."""
        return self.head(inputs)

    def loss(self, inputs: Sequence[torch.Tensor], batch_data_samples,
             train_cfg) -> Dict[str, torch.Tensor]:
        """Losses of the inner head on the selected samples.

        Args:
            inputs (list[Tensor]): multi-level features, level l of shape
                (B, C_l, H_l, W_l).
            batch_data_samples (list[SegDataSample]): B samples with
                ``gt_sem_seg`` and ``modality_mask``.
            train_cfg (dict): passed to the inner head.
        """
        return self._subset_loss(
            list(inputs), batch_data_samples,
            lambda f, s: self.head.loss(f, s, train_cfg))

    def predict(self, inputs, batch_img_metas, test_cfg):
        return self.head.predict(inputs, batch_img_metas, test_cfg)


@CLS_MODELS.register_module()
class CombinationRegularizerClsHead(_CombinationRegularizerMixin, BaseModule):
    """A classification auxiliary head trained on selected combinations only.

    Args:
        head (dict): the inner mmpretrain head (e.g. ``LinearClsHead``); its
            ``loss`` weight is the weight of the regularizer (DMRNet: 0.3).
        modalities (str | dict): the model's modality layout; a task model
            (or distiller) fills it in from its data preprocessor.
        combinations (str | list[str] | None): the selected combinations;
            ``None`` to mine them with :class:`CombinationMiningHook`.
        selector_cfg (dict, optional): more :class:`CombinationSelector`
            arguments (``candidates``, ``num_selected``, ``rule``).
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> from mmpretrain.structures import DataSample
        >>> from mm_incomplete.modality import set_modality_masks
        >>> head = CombinationRegularizerClsHead(
        ...     head=dict(type='LinearClsHead', num_classes=3, in_channels=8,
        ...               loss=dict(type='CrossEntropyLoss', loss_weight=0.3)),
        ...     modalities=dict(rgb=3, depth=1), combinations=['depth'])
        >>> samples = [DataSample().set_gt_label(1) for _ in range(2)]
        >>> set_modality_masks(samples, torch.tensor([[1, 1], [0, 1]]).bool())
        >>> sorted(head.loss((torch.randn(2, 8), ), samples))
        ['loss']
    """

    def __init__(self,
                 head: dict,
                 modalities=None,
                 combinations=None,
                 selector_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        BaseModule.__init__(self, init_cfg)
        self._build(head, CLS_MODELS, modalities, combinations, selector_cfg)

    def _loss_names(self) -> List[str]:
        return ['loss']

    def forward(self, feats):
        """The inner head's scores for every sample (no selection)."""
        return self.head(feats)

    def loss(self, feats: Sequence[torch.Tensor], data_samples,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Losses of the inner head on the selected samples.

        Args:
            feats (tuple[Tensor]): neck outputs, the last (B, C) is used.
            data_samples (list[DataSample]): B samples with ``gt_label`` and
                ``modality_mask``.
        """
        return self._subset_loss(
            list(feats), data_samples,
            lambda f, s: self.head.loss(tuple(f), s, **kwargs))

    def predict(self, feats, data_samples=None):
        return self.head.predict(feats, data_samples)
