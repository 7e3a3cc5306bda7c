"""mmpretrain ImageClassifier that carries the modality mask to the backbone.

Shorthand: B batch, M modalities, C stacked channels, K classes, H x W.

The mask of each sample is its ``modality_mask`` data field (set by the data
preprocessor); every forward mode hands the stacked (B, M) mask to the
backbone. ``predict_combinations`` runs mask-independent encoders once and
fusion, neck and head once per combination (a full pass per combination for
early fusion or ESANet's feedback form). Training builds one
:class:`ForwardRecord` and adds the ``method_losses``; record, loss assembly,
late fusion and ``predict_combinations`` are :class:`MultiModalModelMixin`'s,
shared with the segmentor.
"""
from typing import List, Optional

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..methods.record import ForwardRecord
from ..utils.model_layout import fill_model_layout
from ..utils.multi_modal_model import MultiModalModelMixin


@MODELS.register_module()
class MultiModalImageClassifier(MultiModalModelMixin, ImageClassifier):
    """ImageClassifier for stacked multi-modal inputs with a modality mask.

    Same arguments as mmpretrain's ``ImageClassifier``; the backbone must
    take ``(inputs, mask)`` and expose ``layout``. A ``data_preprocessor``
    dict without ``type`` becomes ``MultiModalClsDataPreProcessor``. The
    layout is declared once, as the data preprocessor's ``modalities`` (or,
    without a multi-modal data preprocessor, the backbone's): every other
    part that takes ``modalities`` gets it, and one that names another
    layout is an error naming both
    (:mod:`~mm_incomplete.models.utils.model_layout`).

    Args:
        backbone (dict): a multi-modal backbone (``MultiBranchResNet``).
        head (dict): an mmpretrain classification head, or a
            :class:`LateFusionHead` (one head per modality and a decision
            rule) for late fusion.
        method_losses (list[dict] | dict[str, dict], optional):
            :class:`BaseMethodLoss` configs (a dict names them), each given
            the :class:`ForwardRecord` of every training step.
        frozen_modules (list[str], optional): modules of an earlier
            training stage (e.g. ``['backbone', 'head.heads']``): no
            gradients, always in eval mode, loaded from ``stage1_ckpt``
            when training starts (``init_weights``).
        stage1_ckpt (str, optional): the earlier stage's checkpoint
            (strict for the frozen modules: errors name the file and keys).
        **kwargs: the other ``ImageClassifier`` arguments.

    Example:
        >>> import torch
        >>> from mmpretrain.structures import DataSample
        >>> model = MultiModalImageClassifier(
        ...     backbone=dict(type='MultiBranchResNet', depth=18,
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
        >>> model.backbone.layout  # the data preprocessor's
        ModalityLayout('rgb:3,depth:1')
    """

    task = 'cls'

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 method_losses=None,
                 frozen_modules=None,
                 stage1_ckpt=None):
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type',
                                         'MultiModalClsDataPreProcessor')
        # one layout (the data preprocessor's) for every part that takes one
        parts, source = fill_model_layout(
            dict(data_preprocessor=data_preprocessor, backbone=backbone,
                 neck=neck, head=head, method_losses=method_losses), MODELS)
        super().__init__(
            parts['backbone'], neck=parts['neck'], head=parts['head'],
            pretrained=pretrained, train_cfg=train_cfg,
            data_preprocessor=parts['data_preprocessor'], init_cfg=init_cfg)
        self.init_multi_modal(parts['method_losses'], frozen_modules,
                              stage1_ckpt, source)

    @property
    def task_head(self):
        return self.head

    def forward(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``, ``'loss'`` or ``'predict'`` on inputs (B, C, H, W)
        under the samples' masks (full where absent)."""
        if mode == 'tensor':
            if not self.with_head:
                return self.extract_feat(
                    inputs, mask=self._mask_of(inputs, data_samples))
            return self.logits_for_masks(
                inputs, [self._mask_of(inputs, data_samples)])[0]
        return super().forward(inputs, data_samples, mode)

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck',
                     mask: Optional[torch.Tensor] = None):
        """Features of inputs (B, C, H, W) under ``mask`` (B, M) (None:
        full) at ``stage``: ``'backbone'``, ``'neck'`` or ``'pre_logits'``
        (early/mid fusion)."""
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'Invalid output stage {stage!r}; choose '
                             "'backbone', 'neck' or 'pre_logits'")
        if self.late_fusion:
            raise RuntimeError('late fusion has no fused features; use '
                               'logits_for_masks')
        x = self.backbone(inputs, mask)
        if stage == 'backbone':
            return x
        x = self._neck(x)[0]
        if stage == 'neck':
            return x
        return self.head.pre_logits(x)

    def _head_logits(self, feats, for_loss: bool = False):
        """Class scores (B, K); ``None`` in training for heads whose
        ``loss`` is not ``forward`` + ``_get_loss``."""
        if for_loss and not (type(self.head).loss is ClsHead.loss
                             and hasattr(self.head, '_get_loss')):
            return None
        return self.head(feats)

    def _task_losses(self, record: ForwardRecord) -> dict:
        if record.head_logits is None:
            return self.head.loss(record.neck_feats, record.data_samples)
        if self.late_fusion and not self.head.fused_loss:
            return dict()  # per-modality objectives are method losses
        return self.head._get_loss(record.head_logits, record.data_samples)

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predictions for inputs (B, C, H, W) under the samples' masks."""
        logits = self.logits_for_masks(
            inputs, [self._mask_of(inputs, data_samples)])[0]
        return self.head._get_predictions(logits, data_samples)

    # -- every-combination evaluation: MultiModalModelMixin's, with ----------
    @staticmethod
    def _fresh_samples(data_samples, batch: int) -> list:
        if data_samples is None:
            return [DataSample() for _ in range(batch)]
        return [s.clone() for s in data_samples]

    def _to_samples(self, output, samples):
        return self.head._get_predictions(output, samples)
