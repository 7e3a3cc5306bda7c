"""DMRNet for classification: probabilistic embedding of the pooled fused
feature, KL regularizer, hard-combination auxiliary classifier.

Shorthand: B batch, M modalities, C channels, D embedding channels, K
classes.

Robust Multimodal Learning via Representation Decoupling (ECCV 2024). As in
the official audio-visual code, the embedding sits on the fused vector after
global pooling: the neck's (B, C) output becomes z = mu + eps * sigma in
training and mu in evaluation, and both heads see z:

    L = CE(head) + w_aux CE(aux_head | hard combinations)
        + w_KL KL(N(mu, sigma^2) || N(0, I)).

``aux_head`` is a :class:`CombinationRegularizerClsHead`; while its selector
mines, each sample's mean sigma^2 is its score (the paper mines the
combination with the largest mean variance). Prediction and the
every-combination evaluation are those of :class:`MultiModalImageClassifier`.
"""
from typing import List, Optional

import torch
from mmengine.registry import MODELS as ROOT_MODELS
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..necks.probabilistic_embedding import accumulate_embedding_variance
from ..utils import find_selectors
from .multi_modal_image_classifier import MultiModalImageClassifier


@MODELS.register_module()
class DMRNetImageClassifier(MultiModalImageClassifier):
    """MultiModalImageClassifier with DMRNet's probabilistic embedding.

    Args:
        backbone (dict): a multi-modal backbone (``MultiBranchResNet``).
        probabilistic_embedding (dict): a :class:`ProbabilisticEmbedding`
            config; ``in_channels`` is the neck's output width, and
            ``out_channels`` the head's ``in_channels``.
        kl_loss (dict): the KL term, default
            ``dict(type='GaussianKLLoss', loss_weight=1e-3)``.
        aux_head (dict, optional): the hard-combination regularizer, a
            :class:`CombinationRegularizerClsHead` (DMRNet: loss weight 0.3).
        **kwargs: the other ``MultiModalImageClassifier`` arguments (``neck``
            must pool to (B, C), e.g. ``GlobalAveragePooling``).

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> model = DMRNetImageClassifier(
        ...     backbone=dict(type='MultiBranchResNet',
        ...                   modalities=dict(rgb=3, depth=1), depth=18,
        ...                   base_channels=8, out_indices=(3, )),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     probabilistic_embedding=dict(type='ProbabilisticEmbedding',
        ...                                  in_channels=64),
        ...     head=dict(type='LinearClsHead', num_classes=5, in_channels=64),
        ...     aux_head=dict(
        ...         type='CombinationRegularizerClsHead',
        ...         modalities=dict(rgb=3, depth=1), combinations=['depth'],
        ...         head=dict(type='LinearClsHead', num_classes=5,
        ...                   in_channels=64,
        ...                   loss=dict(type='CrossEntropyLoss',
        ...                             loss_weight=0.3))),
        ...     data_preprocessor=dict(modalities=dict(rgb=3, depth=1)))
        >>> samples = [DataSample().set_gt_label(1) for _ in range(2)]
        >>> sorted(model.loss(torch.rand(2, 4, 32, 32), samples))
        ['aux.loss', 'loss', 'loss_kl']
    """

    def __init__(self,
                 backbone: dict,
                 *args,
                 probabilistic_embedding: Optional[dict] = None,
                 kl_loss: dict = dict(type='GaussianKLLoss', loss_weight=1e-3),
                 aux_head: Optional[dict] = None,
                 **kwargs):
        super().__init__(backbone, *args, **kwargs)
        if not isinstance(probabilistic_embedding, dict):
            raise TypeError(
                f'{type(self).__name__} needs `probabilistic_embedding`, e.g. '
                "dict(type='ProbabilisticEmbedding', in_channels=...), got "
                f'{probabilistic_embedding!r}')
        self.probabilistic_embedding = ROOT_MODELS.build(
            probabilistic_embedding)
        self.kl_loss = ROOT_MODELS.build(kl_loss)
        self.aux_head = MODELS.build(aux_head) if aux_head else None

    def _embed(self, x):
        """Embed the last neck output (B, C); returns features and stats."""
        out = self.probabilistic_embedding(x[-1])
        return tuple(x[:-1]) + (out.z, ), out

    def _from_backbone(self, x, stage: str = 'neck'):
        if stage == 'backbone':
            return x
        if self.with_neck:
            x = self.neck(x)
        x = self._embed(x)[0]
        if stage == 'neck':
            return x
        return self.head.pre_logits(x)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """CE, hard-combination and KL losses of inputs (B, C, H, W)."""
        mask = self._mask_of(inputs, data_samples)
        x = self.backbone(inputs, mask)
        if self.with_neck:
            x = self.neck(x)
        feats, stats = self._embed(x)
        losses = self.head.loss(feats, data_samples)
        if self.aux_head is not None:
            losses.update({f'aux.{k}': v for k, v in
                           self.aux_head.loss(feats, data_samples).items()})
        losses[self.kl_loss.loss_name] = self.kl_loss(stats.mu, stats.logvar)
        accumulate_embedding_variance(find_selectors(self), [stats], mask)
        return losses
