"""DMRNet for segmentation: probabilistic embedding before the decoder,
KL regularizer, hard-combination auxiliary decoder.

Shorthand: B batch, M modalities, C channels, D embedding channels, H x W.

Robust Multimodal Learning via Representation Decoupling (ECCV 2024). The
fused multi-level features of a multi-branch backbone go through a
:class:`ProbabilisticEmbeddingNeck` (the config's ``neck``): the deepest
level becomes z = mu + eps * sigma in training and mu in evaluation. The
decode head and the auxiliary head see z. Training adds

    L = L_seg(decode_head) + w_aux L_seg(auxiliary_head | hard combinations)
        + w_KL KL(N(mu, sigma^2) || N(0, I)),

the auxiliary head being a :class:`CombinationRegularizerSegHead`; while its
selector mines, each sample's mean sigma^2 is its mining score. Inference,
sliding windows, TTA and the every-combination evaluation are those of
:class:`MultiModalEncoderDecoder` (the neck returns mu in eval mode).
"""
from typing import Optional

import torch
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ..necks.probabilistic_embedding import accumulate_embedding_variance
from ..utils import find_selectors
from .multi_modal_encoder_decoder import MultiModalEncoderDecoder


@MODELS.register_module()
class DMRNetEncoderDecoder(MultiModalEncoderDecoder):
    """MultiModalEncoderDecoder with DMRNet's probabilistic embedding.

    Args:
        neck (dict): a :class:`ProbabilisticEmbeddingNeck` config (anything
            with ``forward_with_stats``).
        kl_loss (dict): the KL term, default
            ``dict(type='GaussianKLLoss', loss_weight=1e-3)``.
        **kwargs: the other ``MultiModalEncoderDecoder`` arguments; for the
            hard-combination regularizer ``auxiliary_head`` is a
            :class:`CombinationRegularizerSegHead`.

    Example:
        >>> import torch
        >>> from mmseg.structures import SegDataSample
        >>> from mmengine.structures import PixelData
        >>> from mm_incomplete.modality import set_modality_masks
        >>> model = DMRNetEncoderDecoder(
        ...     backbone=dict(type='MultiBranchResNet',
        ...                   modalities=dict(rgb=3, depth=1), depth=18,
        ...                   base_channels=8),
        ...     neck=dict(type='ProbabilisticEmbeddingNeck',
        ...               in_channels=[8, 16, 32, 64], in_index=-1),
        ...     decode_head=dict(type='FCNHead', in_channels=64, in_index=3,
        ...                      channels=16, num_classes=5),
        ...     auxiliary_head=dict(
        ...         type='CombinationRegularizerSegHead',
        ...         modalities=dict(rgb=3, depth=1), combinations=['depth'],
        ...         head=dict(type='FCNHead', in_channels=64, in_index=3,
        ...                   channels=16, num_classes=5)),
        ...     test_cfg=dict(mode='whole'))
        >>> samples = [SegDataSample(gt_sem_seg=PixelData(
        ...     data=torch.zeros(1, 64, 64, dtype=torch.long)))
        ...     for _ in range(2)]
        >>> set_modality_masks(samples, torch.tensor([[1, 1], [0, 1]]).bool())
        >>> sorted(model.loss(torch.rand(2, 4, 64, 64), samples))
        ['aux.acc_seg', 'aux.loss_ce', 'decode.acc_seg', 'decode.loss_ce', \
'loss_kl']
    """

    def __init__(self,
                 *args,
                 neck: Optional[dict] = None,
                 kl_loss: dict = dict(type='GaussianKLLoss', loss_weight=1e-3),
                 **kwargs):
        super().__init__(*args, neck=neck, **kwargs)
        if not hasattr(self.neck if self.with_neck else None,
                       'forward_with_stats'):
            raise TypeError(
                f'{type(self).__name__} needs `neck` to be a '
                'ProbabilisticEmbeddingNeck (the probabilistic embedding), '
                f'got {type(getattr(self, "neck", None)).__name__}')
        self.kl_loss = MODELS.build(kl_loss)

    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        """Task, hard-combination and KL losses of inputs (B, C, H, W)."""
        mask = self._mask_of(inputs, data_samples)
        x, stats = self.neck.forward_with_stats(self.backbone(inputs, mask))
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        losses[self.kl_loss.loss_name] = sum(
            self.kl_loss(s.mu, s.logvar) for s in stats)
        accumulate_embedding_variance(find_selectors(self), stats, mask)
        return losses
