"""Early-fusion ResNet: one encoder on the stacked modalities.

Shorthand: B batch, M modalities, C stacked channels, H x W input size.

The baseline every multi-branch method is compared against: the modalities
are stacked along the channels (C = sum of C_m) and a single ResNet whose
stem takes C channels encodes them. A missing modality is zeroed: the
channels of masked modalities are set to 0 per sample (0 is the dataset mean
after the data preprocessor's normalisation). The encoder sees the mask
through its input, so every combination needs its own pass.
"""
from typing import Optional, Tuple

import torch
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS as MMSEG_MODELS

from mm_incomplete.modality import ModalityLayout
from ..utils.pretrained import init_weights_with_deferred
from .mask_utils import host_modality_mask


class EarlyFusionResNet(ResNet):
    """mmseg ResNet on the stacked modalities, masked channels zeroed.

    Registered in both mmseg's and mmpretrain's ``MODELS``.

    Args:
        modalities (str | dict): the modality layout, e.g.
            ``dict(rgb=3, depth=1)``; sets ``in_channels``. In a task model
            leave it unset: the model hands it its data preprocessor's
            (:mod:`~mm_incomplete.models.utils.model_layout`).
        depth (int): ResNet depth: 18, 34, 50, 101 or 152.
        **kwargs: any other argument of mmseg's ``ResNet`` (``base_channels``,
            ``stem_channels``, ``deep_stem``, ``strides``, ``dilations``,
            ``out_indices``, ``norm_cfg``, ...), except ``in_channels``.

    Example:
        >>> import torch
        >>> model = EarlyFusionResNet(dict(rgb=3, depth=1), depth=18,
        ...                           base_channels=8, stem_channels=8)
        >>> mask = torch.tensor([[True, True], [False, True]])
        >>> [tuple(o.shape) for o in model(torch.rand(2, 4, 32, 32), mask)]
        [(2, 8, 8, 8), (2, 16, 4, 4), (2, 32, 2, 2), (2, 64, 1, 1)]
    """

    #: the encoder's input depends on the mask: no encode/fuse split
    encoder_is_mask_independent = False

    def __init__(self, modalities=None, depth: int = 50,
                 **kwargs):
        if 'in_channels' in kwargs:
            raise ValueError('EarlyFusionResNet takes its input channels from '
                             '`modalities`; remove backbone.in_channels')
        if depth not in ResNet.arch_settings:
            raise ValueError(f'backbone.depth must be one of '
                             f'{sorted(ResNet.arch_settings)}, got {depth}')
        layout = ModalityLayout(modalities, 'backbone.modalities')
        super().__init__(depth=depth, in_channels=layout.total_channels,
                         **kwargs)
        self.layout = layout
        expansion = self.block.expansion
        self.out_channels = [self.base_channels * 2**i * expansion
                             for i in self.out_indices]

    def init_weights(self):
        """mmengine initialisation; ``PretrainedBranches`` (ImageNet weights,
        first conv stacked per modality) runs last."""
        init_weights_with_deferred(self)

    def train(self, mode: bool = True) -> 'EarlyFusionResNet':
        """Set train/eval mode (honouring ``norm_eval`` and
        ``frozen_stages``) and return the module, as ``nn.Module`` does."""
        super().train(mode)
        return self

    def forward(self, inputs: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:
        """inputs (B, C, H, W), mask (B, M) bool or None (full) -> tuple of
        (B, C_i, h_i, w_i), one per ``out_indices``."""
        if inputs.shape[1] != self.layout.total_channels:
            raise ValueError(
                f'inputs have {inputs.shape[1]} channels but '
                f'backbone.modalities {self.layout!r} needs '
                f'{self.layout.total_channels}')
        # decided on the host copy of the mask: nothing waits for the device
        mask = host_modality_mask(mask, inputs.shape[0], self.layout)
        if not bool(mask.all()):
            keep = self.layout.channel_mask(mask)[:, :, None, None]
            inputs = inputs.masked_fill(
                ~keep.to(inputs.device, non_blocking=True), 0)
        return super().forward(inputs)


MMSEG_MODELS.register_module(module=EarlyFusionResNet)
MMPRETRAIN_MODELS.register_module(module=EarlyFusionResNet)
