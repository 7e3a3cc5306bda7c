"""mmseg EncoderDecoder that carries the modality mask to the backbone.

Shorthand: B batch, M modalities, C stacked channels, K classes (or
combinations where stated), H x W input size.

The mask of each sample is the ``modality_mask`` field of its data sample
(written by the data preprocessor); ``stack_modality_masks`` gathers the (B, M)
mask that every forward path (loss, predict with whole or sliding-window
inference, tensor mode, TTA through ``test_step``) hands to the backbone.

``predict_combinations`` evaluates several combinations on one batch. With a
backbone whose encoders do not depend on the mask
(``backbone.encoder_is_mask_independent``) the encoders run once - once per
window in slide mode - and only fusion, neck and decode head run per
combination; otherwise (early fusion, ESANet's feedback form) each
combination gets a full forward pass. Training builds one
:class:`ForwardRecord` and adds the ``method_losses``; the loss assembly,
the record, late fusion and ``predict_combinations`` are those of
:class:`MultiModalModelMixin`, shared with the classifier.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList, add_prefix

from ..methods.record import ForwardRecord
from ..utils.model_layout import fill_model_layout
from ..utils.multi_modal_model import MultiModalModelMixin


@MODELS.register_module()
class MultiModalEncoderDecoder(MultiModalModelMixin, EncoderDecoder):
    """EncoderDecoder for stacked multi-modal inputs with a modality mask.

    Same arguments as mmseg's ``EncoderDecoder``; the backbone must take
    ``(inputs, mask)`` and expose ``layout`` (``MultiBranchResNet``,
    ``EarlyFusionResNet``). The layout is declared once, as the data
    preprocessor's ``modalities`` (or, without a multi-modal data
    preprocessor, the backbone's): every other part that takes
    ``modalities`` gets it, and one that names another layout is an error
    naming both (:mod:`~mm_incomplete.models.utils.model_layout`).

    Args:
        method_losses (list[dict] | dict[str, dict], optional):
            :class:`BaseMethodLoss` configs (a dict names them); each gets
            the :class:`ForwardRecord` of every training step and adds its
            loss dict (e.g. DMRNet's ``ProbabilisticEmbeddingKL`` and
            ``CombinationRegularizer``).
        frozen_modules (list[str], optional): modules of an earlier
            training stage (e.g. ``['backbone', 'decode_head.heads']``): no
            gradients, always in eval mode, loaded from ``stage1_ckpt``
            when training starts (``init_weights``).
        stage1_ckpt (str, optional): the earlier stage's checkpoint
            (strict for the frozen modules: errors name the file and keys).
        decode_head (dict): an mmseg decode head, or a
            :class:`LateFusionHead` for late fusion (one head per modality
            and a decision rule).
        **kwargs: the other ``EncoderDecoder`` arguments.

    Example:
        >>> import torch
        >>> from mmseg.structures import SegDataSample
        >>> model = MultiModalEncoderDecoder(
        ...     backbone=dict(type='MultiBranchResNet',
        ...                   modalities=dict(rgb=3, depth=1), depth=18,
        ...                   base_channels=8),
        ...     decode_head=dict(type='FCNHead', in_channels=64, in_index=3,
        ...                      channels=16, num_classes=5),
        ...     test_cfg=dict(mode='whole')).eval()
        >>> samples = [SegDataSample(metainfo=dict(
        ...     img_shape=(32, 32), ori_shape=(32, 32))) for _ in range(2)]
        >>> out = model.predict_combinations(torch.rand(2, 4, 32, 32),
        ...                                  samples, 'all')
        >>> sorted(out), out['depth'][0].pred_sem_seg.shape
        (['depth', 'rgb', 'rgb+depth'], (32, 32))
    """

    task = 'seg'

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 auxiliary_head=None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor=None,
                 pretrained: Optional[str] = None,
                 init_cfg=None,
                 method_losses=None,
                 frozen_modules=None,
                 stage1_ckpt=None):
        # one layout (the data preprocessor's) for every part that takes one
        parts, source = fill_model_layout(
            dict(data_preprocessor=data_preprocessor, backbone=backbone,
                 neck=neck, decode_head=decode_head,
                 auxiliary_head=auxiliary_head,
                 method_losses=method_losses), MODELS)
        super().__init__(
            backbone=parts['backbone'], decode_head=parts['decode_head'],
            neck=parts['neck'], auxiliary_head=parts['auxiliary_head'],
            train_cfg=train_cfg, test_cfg=test_cfg,
            data_preprocessor=parts['data_preprocessor'],
            pretrained=pretrained, init_cfg=init_cfg)
        # attribute access (test_cfg.mode) also for plain dicts; no test_cfg
        # means whole-image inference
        self.test_cfg = ConfigDict(self.test_cfg or dict(mode='whole'))
        self.init_multi_modal(parts['method_losses'], frozen_modules,
                              stage1_ckpt, source)

    @property
    def task_head(self):
        return self.decode_head

    # -- feature extraction ------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor,
                     mask: Optional[torch.Tensor] = None
                     ) -> List[torch.Tensor]:
        """inputs (B, C, H, W), mask (B, M) bool or None (full) -> features
        of the backbone (and neck); early/mid fusion only."""
        if self.late_fusion:
            raise RuntimeError('late fusion has no fused features; use '
                               'logits_for_masks or encode_decode')
        x = self.backbone(inputs, mask)
        if self.with_neck:
            x = self.neck(x)
        return x

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict],
                      mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Seg logits (B, K, H, W) of inputs (B, C, H, W) under ``mask``."""
        if mask is None:
            mask = self.layout.combination_mask(self.layout.full).expand(
                inputs.shape[0], -1)
        return self._encode_decode_masks(inputs, batch_img_metas, [mask])[0]

    def _encode_decode_masks(self, inputs: torch.Tensor,
                             batch_img_metas: List[dict],
                             masks: Sequence[torch.Tensor]
                             ) -> List[torch.Tensor]:
        """Seg logits (B, K, H, W) for each (B, M) mask of ``masks``; the
        encoders run once when they do not depend on the mask."""
        return [self.decode_head.predict_by_feat(logits, batch_img_metas)
                for logits in self.logits_for_masks(inputs, masks)]

    # -- training -----------------------------------------------------------
    def _head_logits(self, feats, for_loss: bool = False):
        """Decode-head logits (B, K, h, w); ``None`` in training for heads
        whose ``loss`` is not ``forward`` + ``loss_by_feat``."""
        if for_loss and type(self.decode_head).loss is not \
                BaseDecodeHead.loss:
            return None
        return self.decode_head.forward(feats)

    def _task_losses(self, record: ForwardRecord) -> dict:
        """Decode-head (``decode.*``) and auxiliary-head (``aux.*``)
        losses from the record."""
        samples = record.data_samples
        if record.head_logits is None:
            losses = self._decode_head_forward_train(record.neck_feats,
                                                     samples)
        elif self.late_fusion and not self.decode_head.fused_loss:
            losses = dict()  # per-modality objectives are method losses
        else:
            losses = add_prefix(
                self.decode_head.loss_by_feat(record.head_logits, samples),
                'decode')
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(
                record.neck_feats, samples))
        return losses

    # -- inference ----------------------------------------------------------
    @staticmethod
    def _metas(inputs, data_samples) -> List[dict]:
        if data_samples is not None:
            return [s.metainfo for s in data_samples]
        return [dict(ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:],
                     pad_shape=inputs.shape[2:], padding_size=[0, 0, 0, 0])
                ] * inputs.shape[0]

    def predict(self, inputs: torch.Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """Predictions for inputs (B, C, H, W) under the samples' masks."""
        metas = self._metas(inputs, data_samples)
        seg_logits = self.inference(inputs, metas,
                                    self._mask_of(inputs, data_samples))
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self, inputs: torch.Tensor,
                 data_samples: OptSampleList = None) -> torch.Tensor:
        """Raw decode-head output (B, K, h, w) under the samples' masks."""
        return self.logits_for_masks(
            inputs, [self._mask_of(inputs, data_samples)])[0]

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict],
                  mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Whole or sliding-window seg logits (B, K, H, W) under ``mask``."""
        if mask is None:
            mask = self.layout.combination_mask(self.layout.full).expand(
                inputs.shape[0], -1)
        return self._inference_masks(inputs, batch_img_metas, [mask])[0]

    def whole_inference(self, inputs: torch.Tensor,
                        batch_img_metas: List[dict],
                        mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Seg logits (B, K, H, W) of the full image under ``mask``."""
        return self.encode_decode(inputs, batch_img_metas, mask)

    def slide_inference(self, inputs: torch.Tensor,
                        batch_img_metas: List[dict],
                        mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Sliding-window seg logits (B, K, H, W) under ``mask``."""
        if mask is None:
            mask = self.layout.combination_mask(self.layout.full).expand(
                inputs.shape[0], -1)
        return self._slide_masks(inputs, batch_img_metas, [mask])[0]

    def _inference_masks(self, inputs, batch_img_metas, masks):
        mode = self.test_cfg.get('mode', 'whole')
        if mode not in ('slide', 'whole'):
            raise ValueError(f"test_cfg.mode must be 'slide' or 'whole', got "
                             f'{mode!r}')
        if mode == 'slide':
            return self._slide_masks(inputs, batch_img_metas, masks)
        return self._encode_decode_masks(inputs, batch_img_metas, masks)

    def _slide_masks(self, inputs, batch_img_metas, masks):
        """Sliding-window logits for each mask; every window is encoded once.

        Windows of ``test_cfg.crop_size`` every ``test_cfg.stride`` pixels;
        the last row/column of windows is shifted inward to end at the image
        border, and overlapping logits are averaged.
        """
        h_stride, w_stride = self.test_cfg.stride
        h_crop, w_crop = self.test_cfg.crop_size
        batch, _, h_img, w_img = inputs.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = [inputs.new_zeros((batch, self.out_channels, h_img, w_img))
                 for _ in masks]
        count = inputs.new_zeros((batch, 1, h_img, w_img))
        for gy in range(h_grids):
            for gx in range(w_grids):
                y2 = min(gy * h_stride + h_crop, h_img)
                x2 = min(gx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop = inputs[:, :, y1:y2, x1:x2]
                batch_img_metas[0]['img_shape'] = crop.shape[2:]
                logits = self._encode_decode_masks(crop, batch_img_metas,
                                                   masks)
                for pred, logit in zip(preds, logits):
                    pred += F.pad(logit, (x1, w_img - x2, y1, h_img - y2))
                count[:, :, y1:y2, x1:x2] += 1
        return [pred / count for pred in preds]

    # -- every-combination evaluation ---------------------------------------
    # ``predict_combinations`` is MultiModalModelMixin's; these are its two
    # task-specific steps (whole or sliding-window logits, then samples).
    def _outputs_for_masks(self, inputs, data_samples, masks):
        return self._inference_masks(inputs,
                                     self._metas(inputs, data_samples), masks)

    def _to_samples(self, output, samples):
        return self.postprocess_result(output, samples)
