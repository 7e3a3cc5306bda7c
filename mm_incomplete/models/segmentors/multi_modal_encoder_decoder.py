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
combination gets a full forward pass.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList

from mm_incomplete.modality import set_modality_masks
from ..utils.multi_modal_model import MultiModalModelMixin


@MODELS.register_module()
class MultiModalEncoderDecoder(MultiModalModelMixin, EncoderDecoder):
    """EncoderDecoder for stacked multi-modal inputs with a modality mask.

    Same arguments as mmseg's ``EncoderDecoder``; the backbone must take
    ``(inputs, mask)`` and expose ``layout`` (``MultiBranchResNet``,
    ``EarlyFusionResNet``). When the data preprocessor has a layout too, the
    two must agree.

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # attribute access (test_cfg.mode) also for plain dicts; no test_cfg
        # means whole-image inference
        self.test_cfg = ConfigDict(self.test_cfg or dict(mode='whole'))
        self.check_modality_layouts()

    # -- feature extraction ------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor,
                     mask: Optional[torch.Tensor] = None
                     ) -> List[torch.Tensor]:
        """inputs (B, C, H, W), mask (B, M) bool or None (full) -> features
        of the backbone (and neck)."""
        x = self.backbone(inputs, mask)
        if self.with_neck:
            x = self.neck(x)
        return x

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict],
                      mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Seg logits (B, K, H, W) of inputs (B, C, H, W) under ``mask``."""
        x = self.extract_feat(inputs, mask)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def _encode_decode_masks(self, inputs: torch.Tensor,
                             batch_img_metas: List[dict],
                             masks: Sequence[torch.Tensor]
                             ) -> List[torch.Tensor]:
        """Seg logits (B, K, H, W) for each (B, M) mask of ``masks``; the
        encoders run once when they do not depend on the mask."""
        if len(masks) == 1 or not getattr(
                self.backbone, 'encoder_is_mask_independent', False):
            return [self.encode_decode(inputs, batch_img_metas, m)
                    for m in masks]
        union = torch.stack(list(masks)).any(0)
        feats = self.backbone.encode(inputs, union)
        logits = []
        for mask in masks:
            x = self.backbone.fuse(feats, mask)
            if self.with_neck:
                x = self.neck(x)
            logits.append(
                self.decode_head.predict(x, batch_img_metas, self.test_cfg))
        return logits

    # -- training -----------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        """Losses of inputs (B, C, H, W) under the samples' masks."""
        x = self.extract_feat(inputs, self._mask_of(inputs, data_samples))
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
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
        """Raw decode-head output under the samples' masks."""
        x = self.extract_feat(inputs, self._mask_of(inputs, data_samples))
        return self.decode_head.forward(x)

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict],
                  mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Whole or sliding-window seg logits (B, K, H, W) under ``mask``."""
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
    def predict_combinations(self, inputs: torch.Tensor,
                             data_samples: SampleList,
                             combinations=None) -> Dict[str, SampleList]:
        """Predict every combination of one batch.

        Args:
            inputs (Tensor): (B, C, H, W) preprocessed stacked modalities;
                channels of any modality may be present, each combination
                masks its own.
            data_samples (list[SegDataSample]): the batch's samples; they are
                not modified.
            combinations (str | list | None): ``'all'``/``None`` (every
                combination), ``'rgb,depth'``, or a list of names / tuples.

        Returns:
            dict[str, list[SegDataSample]]: ``{combination_name: samples}``,
            in the order of ``combinations``; each list holds fresh copies of
            ``data_samples`` with the combination's ``modality_mask`` and its
            ``seg_logits`` / ``pred_sem_seg``.
        """
        combos = self.layout.parse_combinations(combinations, 'combinations')
        batch = inputs.shape[0]
        masks = [self.layout.combination_mask(c).to(inputs.device)
                 .expand(batch, -1) for c in combos]
        metas = self._metas(inputs, data_samples)
        logits = self._inference_masks(inputs, metas, masks)
        out = {}
        for combo, mask, logit in zip(combos, masks, logits):
            samples = [s.clone() for s in data_samples]
            set_modality_masks(samples, mask)
            out[self.layout.combination_name(combo)] = \
                self.postprocess_result(logit, samples)
        return out
