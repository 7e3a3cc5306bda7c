"""mmpretrain ImageClassifier that carries the modality mask to the backbone.

Shorthand: B batch, M modalities, C stacked channels, K classes, H x W.

The mask of each sample is its ``modality_mask`` data field (set by the data
preprocessor); every forward mode hands the stacked (B, M) mask to the
backbone. ``predict_combinations`` runs mask-independent encoders once and
fusion, neck and head once per combination (a full pass per combination for
early fusion or ESANet's feedback form).
"""
from typing import Dict, List, Optional

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mm_incomplete.modality import set_modality_masks
from ..utils.multi_modal_model import MultiModalModelMixin


@MODELS.register_module()
class MultiModalImageClassifier(MultiModalModelMixin, ImageClassifier):
    """ImageClassifier for stacked multi-modal inputs with a modality mask.

    Same arguments as mmpretrain's ``ImageClassifier``; the backbone must
    take ``(inputs, mask)`` and expose ``layout``. A ``data_preprocessor``
    dict without ``type`` becomes ``MultiModalClsDataPreProcessor``.

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> model = MultiModalImageClassifier(
        ...     backbone=dict(type='MultiBranchResNet',
        ...                   modalities=dict(rgb=3, depth=1), depth=18,
        ...                   base_channels=8, out_indices=(3, )),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='LinearClsHead', num_classes=5,
        ...               in_channels=64),
        ...     data_preprocessor=dict(modalities=dict(rgb=3, depth=1))
        ... ).eval()
        >>> out = model.predict_combinations(
        ...     torch.rand(2, 4, 32, 32), [DataSample(), DataSample()])
        >>> sorted(out), out['rgb'][0].pred_score.shape
        (['depth', 'rgb', 'rgb+depth'], torch.Size([5]))
    """

    def __init__(self, backbone: dict, *args,
                 data_preprocessor: Optional[dict] = None, **kwargs):
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type',
                                         'MultiModalClsDataPreProcessor')
        super().__init__(backbone, *args,
                         data_preprocessor=data_preprocessor, **kwargs)
        self.check_modality_layouts()


    def forward(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``, ``'loss'`` or ``'predict'`` on inputs (B, C, H, W)
        under the samples' masks (full where absent)."""
        if mode == 'tensor':
            feats = self.extract_feat(
                inputs, mask=self._mask_of(inputs, data_samples))
            return self.head(feats) if self.with_head else feats
        return super().forward(inputs, data_samples, mode)

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck',
                     mask: Optional[torch.Tensor] = None):
        """Features of inputs (B, C, H, W) under ``mask`` (B, M) (None:
        full) at ``stage``: ``'backbone'``, ``'neck'`` or ``'pre_logits'``."""
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'Invalid output stage {stage!r}; choose '
                             "'backbone', 'neck' or 'pre_logits'")
        return self._from_backbone(self.backbone(inputs, mask), stage)

    def _from_backbone(self, x, stage: str = 'neck'):
        if stage == 'backbone':
            return x
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        return self.head.pre_logits(x)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Losses of inputs (B, C, H, W) under the samples' masks."""
        feats = self.extract_feat(
            inputs, mask=self._mask_of(inputs, data_samples))
        return self.head.loss(feats, data_samples)

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predictions for inputs (B, C, H, W) under the samples' masks."""
        feats = self.extract_feat(
            inputs, mask=self._mask_of(inputs, data_samples))
        return self.head.predict(feats, data_samples, **kwargs)

    def predict_combinations(self, inputs: torch.Tensor,
                             data_samples: Optional[List[DataSample]],
                             combinations=None) -> Dict[str, List[DataSample]]:
        """Predict every combination of one batch.

        Args:
            inputs (Tensor): (B, C, H, W) preprocessed stacked modalities.
            data_samples (list[DataSample], optional): the batch's samples;
                not modified. ``None`` gives new empty samples.
            combinations (str | list | None): ``'all'``/``None`` (every
                combination), ``'rgb,depth'``, or a list of names / tuples.

        Returns:
            dict[str, list[DataSample]]: ``{combination_name: samples}`` in
            the order of ``combinations``; fresh copies with the
            combination's ``modality_mask``, ``pred_score`` and
            ``pred_label``.
        """
        combos = self.layout.parse_combinations(combinations, 'combinations')
        batch = inputs.shape[0]
        masks = [self.layout.combination_mask(c).to(inputs.device)
                 .expand(batch, -1) for c in combos]
        shared = len(masks) > 1 and getattr(
            self.backbone, 'encoder_is_mask_independent', False)
        if shared:
            feats = self.backbone.encode(inputs, torch.stack(masks).any(0))
        out = {}
        for combo, mask in zip(combos, masks):
            x = self.backbone.fuse(feats, mask) if shared else \
                self.backbone(inputs, mask)
            if data_samples is None:
                samples = [DataSample() for _ in range(batch)]
            else:
                samples = [s.clone() for s in data_samples]
            set_modality_masks(samples, mask)
            out[self.layout.combination_name(combo)] = self.head.predict(
                self._from_backbone(x), samples)
        return out
