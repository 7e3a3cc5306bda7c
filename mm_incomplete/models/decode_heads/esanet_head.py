"""ESANet's decoder (Seichter et al., ICRA 2021) as an mmseg neck + head.

Shorthand: B batch, C_l channels of level l, K classes, H x W input size;
levels 1/4, 1/8, 1/16, 1/32 of the input.

The decoder of the incomplete-RGB-D papers' NYUDv2 / SUN RGB-D code
(DMRNet and MMANet build on ESANet's code base)::

    fused encoder features  f4 (B, 256), f8 (512), f16 (1024), f32 (2048)
    ESANetContextNeck:
        context = PPM(f32)                       (B, 512, H/32, W/32)
        s16, s8, s4 = 1x1 ConvBNReLU(f16, f8, f4)  (512, 256, 128 channels)
    ESANetHead, three decoder modules (512, 256, 128 channels):
        d = NB1D^3(ConvBNReLU3x3(x))             side output: Conv1x1(d) -> K
        x = up2(d) + skip                        (skips s16, s8, s4)
    logits = up2(up2(Conv3x3(x)))                (B, K, H, W)

``PPM`` (in ``models/necks/esanet_context_neck.py``) pools to each of
``pool_scales`` (ESANet's 'ppm': 1 and 5 bins),
projects to C / len(bins) channels, upsamples (nearest, as ESANet does when
the decoder uses learned upsampling), concatenates with its input and
projects to 512 channels. ``NB1D`` is ERFNet's non-bottleneck-1D block.
``up2`` is ESANet's 'learned-3x3-zeropad' upsampling: nearest x2, then a
depthwise 3x3 convolution initialised to the bilinear kernel.

The context module and the skip projections form a neck because the
methods share them: DMRNet puts its probabilistic embedding on the context
feature and its hard-combination decoder on the same neck outputs as the
task decoder, MMANet distils the context and the projected 1/16 and 1/8
skips and trains its regularization decoder on them (as their official
code does). ``ESANetHead(context=dict(...))`` holds its own context neck
instead, a drop-in replacement for a head on the backbone's four levels.

In training the head also returns the three side outputs (1/32, 1/16,
1/8); each is supervised with the label downsampled (nearest) to its size,
ESANet's multi-scale supervision, every scale with weight 1. With deep
supervision on (``side_loss_weights``) every forward computes them, the
plain one (tensor / predict mode) too, which returns the full-size logits
only: a frozen teacher's side outputs can then be recorded at
``decode_head.decoder.<i>.side_output`` (i = 0, 1, 2: 1/32, 1/16, 1/8)
without running its loss; they cost three 1x1 convolutions at 1/32 to 1/8
(43 M multiply-adds per 480 x 640 image, 0.05 % of the convolutions of
the NYUDv2 one-stage student, 81 G, counted with forward hooks).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ..necks.esanet_context_neck import ESANetContextNeck

UPSAMPLING = ('learned-3x3-zeropad', 'nearest', 'bilinear')


class NonBottleneck1D(BaseModule):
    """ERFNet's non-bottleneck-1D residual block (as ESANet's decoder uses it).

    (3x1 conv, ReLU, 1x3 conv, BN, ReLU) twice, the second pair without the
    last ReLU, then ``ReLU(out + x)``. Channels and size are unchanged.

    Args:
        channels (int): C.
        norm_cfg (dict): norm layer (ESANet: BatchNorm, eps 1e-3).

    Example:
        >>> block = NonBottleneck1D(8)
        >>> block(torch.randn(2, 8, 5, 5)).shape
        torch.Size([2, 8, 5, 5])
    """

    def __init__(self, channels: int,
                 norm_cfg: dict = dict(type='BN', eps=1e-3)):
        super().__init__()
        self.conv3x1_1 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        self.conv1x3_1 = nn.Conv2d(channels, channels, (1, 3), padding=(0, 1))
        self.bn1 = build_norm_layer(norm_cfg, channels)[1]
        self.conv3x1_2 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        self.conv1x3_2 = nn.Conv2d(channels, channels, (1, 3), padding=(0, 1))
        self.bn2 = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv3x1_1(x))
        out = F.relu(self.bn1(self.conv1x3_1(out)))
        out = F.relu(self.conv3x1_2(out))
        out = self.bn2(self.conv1x3_2(out))
        return F.relu(out + x)


class Upsample2x(nn.Module):
    """x2 upsampling: ``'learned-3x3-zeropad'`` (nearest, then a depthwise
    3x3 conv initialised to the bilinear kernel, trainable), ``'nearest'``
    or ``'bilinear'``. ``size`` overrides the x2 size (odd inputs)."""

    def __init__(self, mode: str, channels: int):
        super().__init__()
        if mode not in UPSAMPLING:
            raise ValueError(f'upsampling must be one of {UPSAMPLING}, got '
                             f'{mode!r}')
        self.mode = mode
        self.conv = None
        if mode == 'learned-3x3-zeropad':
            self.conv = nn.Conv2d(channels, channels, 3, padding=1,
                                  groups=channels)
            kernel = torch.tensor([1., 2., 1.])
            kernel = torch.outer(kernel, kernel) / 16
            with torch.no_grad():
                self.conv.weight.copy_(kernel.expand(channels, 1, 3, 3))
                self.conv.bias.zero_()

    def forward(self, x: torch.Tensor,
                size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        size = size or (2 * x.shape[2], 2 * x.shape[3])
        if self.mode == 'bilinear':
            return F.interpolate(x, size, mode='bilinear',
                                 align_corners=False)
        x = F.interpolate(x, size, mode='nearest')
        return x if self.conv is None else self.conv(x)


class DecoderModule(BaseModule):
    """One ESANet decoder module: 3x3 ConvBNReLU, ``num_blocks`` NB1D
    blocks, a 1x1 side output to K classes and x2 upsampling (the skip is
    added by the caller)."""

    def __init__(self, in_channels: int, channels: int, num_blocks: int,
                 num_classes: int, upsampling: str, norm_cfg: dict,
                 block_norm_cfg: dict):
        super().__init__()
        self.conv = ConvModule(in_channels, channels, 3, padding=1,
                               norm_cfg=norm_cfg)
        self.blocks = nn.Sequential(*[
            NonBottleneck1D(channels, block_norm_cfg)
            for _ in range(num_blocks)])
        self.side_output = nn.Conv2d(channels, num_classes, 1)
        self.upsample = Upsample2x(upsampling, channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor,
                with_side: bool) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        d = self.blocks(self.conv(x))
        side = self.side_output(d) if with_side else None
        return self.upsample(d, skip.shape[2:]) + skip, side


@MODELS.register_module()
class ESANetHead(BaseDecodeHead):
    """ESANet's decoder: three decoder modules with encoder skips, side
    outputs for multi-scale supervision, learned upsampling to full size.

    Args:
        in_channels (Sequence[int]): with ``context=None``, the outputs of
            an :class:`ESANetContextNeck`: ``[s4, s8, s16, context]``
            channels, e.g. ``[128, 256, 512, 512]``; with ``context``, the
            backbone's four levels (``[256, 512, 1024, 2048]``).
        decoder_channels (Sequence[int]): channels of the three decoder
            modules (the papers' setting: ``(512, 256, 128)``).
        num_blocks (int): NB1D blocks per module (3).
        upsampling (str): ``'learned-3x3-zeropad'`` (ESANet's default in
            these papers), ``'nearest'`` or ``'bilinear'``.
        side_loss_weights (Sequence[float]): weights of the side outputs'
            losses at 1/32, 1/16, 1/8 (ESANet: 1 each; each multiplies the
            ``loss_decode`` weight). Empty: no deep supervision.
        context (dict, optional): arguments of an :class:`ESANetContextNeck`
            the head builds on its inputs (``in_channels`` and
            ``skip_channels`` are filled in).
        block_norm_cfg (dict, optional): norm of the NB1D blocks; default
            ``norm_cfg`` with eps 1e-3 (ERFNet's).
        dropout_ratio (float): dropout before the output conv (ESANet: 0).
        loss_decode (dict | list[dict]): the task loss of every scale;
            default cross-entropy averaged over non-ignored pixels.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``norm_cfg``, ``align_corners``, ...). ``channels`` is
            ``decoder_channels[-1]``.

    Example:
        >>> head = ESANetHead(in_channels=[4, 8, 16, 16],
        ...                   decoder_channels=(16, 8, 4), num_blocks=1,
        ...                   num_classes=3)
        >>> feats = [torch.randn(2, c, 16 // 2**i, 16 // 2**i)
        ...          for i, c in enumerate([4, 8, 16, 16])]
        >>> head(feats).shape
        torch.Size([2, 3, 64, 64])
        >>> main, sides = head.forward_with_sides(feats)
        >>> [tuple(s.shape[2:]) for s in sides]
        [(2, 2), (4, 4), (8, 8)]
        >>> scales, weights = head.forward_supervised(feats)
        >>> len(scales), weights
        (4, (1.0, 1.0, 1.0, 1.0))
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 decoder_channels: Sequence[int] = (512, 256, 128),
                 num_blocks: int = 3,
                 upsampling: str = 'learned-3x3-zeropad',
                 side_loss_weights: Sequence[float] = (1.0, 1.0, 1.0),
                 context: Optional[dict] = None,
                 block_norm_cfg: Optional[dict] = None,
                 dropout_ratio: float = 0.0,
                 loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0,
                                  avg_non_ignore=True),
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        decoder_channels = [int(c) for c in decoder_channels]
        if len(decoder_channels) != 3:
            raise ValueError('ESANetHead.decoder_channels needs three '
                             f'values, got {decoder_channels}')
        if kwargs.pop('channels', decoder_channels[-1]) != \
                decoder_channels[-1]:
            raise ValueError('ESANetHead.channels is decoder_channels[-1] '
                             f'({decoder_channels[-1]}); leave it unset')
        kwargs.pop('input_transform', None)
        kwargs.pop('in_index', None)
        # losses are mmseg's whatever scope the caller runs under (mmseg's
        # and mmpretrain's CrossEntropyLoss take different arguments)
        loss_decode = [dict(c, _scope_=c.get('_scope_', 'mmseg'))
                       for c in loss_decode] \
            if isinstance(loss_decode, (list, tuple)) else \
            dict(loss_decode, _scope_=loss_decode.get('_scope_', 'mmseg'))
        super().__init__(
            in_channels=list(in_channels), channels=decoder_channels[-1],
            in_index=[0, 1, 2, 3], input_transform='multiple_select',
            dropout_ratio=dropout_ratio, loss_decode=loss_decode,
            init_cfg=init_cfg, **kwargs)
        side_loss_weights = tuple(float(w) for w in side_loss_weights)
        if len(side_loss_weights) not in (0, 3):
            raise ValueError('ESANetHead.side_loss_weights needs 3 weights '
                             '(1/32, 1/16, 1/8) or none, got '
                             f'{side_loss_weights}')
        self.side_loss_weights = side_loss_weights
        self.decoder_channels = decoder_channels
        norm_cfg = self.norm_cfg or dict(type='BN')
        if block_norm_cfg is None:
            block_norm_cfg = dict(norm_cfg, eps=1e-3)
        skip_channels = decoder_channels[::-1]
        self.context = None
        if context is not None:
            self.context = ESANetContextNeck(
                **dict(dict(norm_cfg=norm_cfg), **context,
                       in_channels=list(in_channels),
                       skip_channels=skip_channels))
            feat_channels = self.context.out_channels
        else:
            feat_channels = list(in_channels)
        if feat_channels[:3] != skip_channels:
            raise ValueError(
                f'ESANetHead: the 1/4, 1/8, 1/16 inputs have '
                f'{feat_channels[:3]} channels but the decoder modules '
                f'{decoder_channels} need skips of {skip_channels} (project '
                'them with ESANetContextNeck)')
        ins = [feat_channels[3]] + decoder_channels[:2]
        self.decoder = nn.ModuleList(
            DecoderModule(c_in, c, num_blocks, self.out_channels, upsampling,
                          norm_cfg, block_norm_cfg)
            for c_in, c in zip(ins, decoder_channels))
        # ESANet's output conv is 3x3 (mmseg's conv_seg is 1x1)
        self.conv_seg = nn.Conv2d(decoder_channels[-1], self.out_channels, 3,
                                  padding=1)
        self.upsample = nn.ModuleList(
            Upsample2x(upsampling, self.out_channels) for _ in range(2))

    def forward_with_sides(self, inputs: Sequence[torch.Tensor],
                           with_sides: bool = True
                           ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Logits (B, K, H, W) and the side outputs at 1/32, 1/16, 1/8."""
        feats = self._transform_inputs(inputs)
        if self.context is not None:
            feats = self.context(feats)
        if len(feats) != 4:
            raise ValueError(f'ESANetHead expects 4 inputs (s4, s8, s16, '
                             f'context), got {len(feats)}')
        x, sides = feats[3], []
        for module, skip in zip(self.decoder, feats[2::-1]):
            x, side = module(x, skip, with_sides)
            sides.append(side)
        out = self.cls_seg(x)
        for up in self.upsample:
            out = up(out)
        return out, (sides if with_sides else [])

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits (B, K, H, W) at 4x the 1/4 level (the input size); the
        side outputs are computed (for recorders) but not returned."""
        return self.forward_with_sides(
            inputs, with_sides=bool(self.side_loss_weights))[0]

    def forward_supervised(self, inputs: Sequence[torch.Tensor]
                           ) -> Tuple[List[torch.Tensor], Tuple[float, ...]]:
        """The logits of every scale the task loss supervises and their
        weights, the full-size output first: ``[out, side 1/32, side 1/16,
        side 1/8]`` and ``(1, *side_loss_weights)``; ``[out]`` and ``(1, )``
        without deep supervision."""
        with_sides = bool(self.side_loss_weights)
        out, sides = self.forward_with_sides(inputs, with_sides)
        return [out, *sides], (1.0, *self.side_loss_weights)

    def loss(self, inputs: Sequence[torch.Tensor],
             batch_data_samples: SampleList, train_cfg) -> dict:
        """Task loss of the main output plus the side outputs' losses."""
        with_sides = bool(self.side_loss_weights)
        out, sides = self.forward_with_sides(inputs, with_sides)
        losses = self.loss_by_feat(out, batch_data_samples)
        if with_sides:
            losses.update(self.side_losses(sides, batch_data_samples))
        return losses

    def side_losses(self, sides: Sequence[torch.Tensor],
                    batch_data_samples: SampleList) -> dict:
        """Losses of the side outputs (B, K, h, w) against the label
        downsampled (nearest) to each size, keys ``<loss_name>_down<r>``."""
        label = self._stack_batch_gt(batch_data_samples)
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses = {}
        for side, weight in zip(sides, self.side_loss_weights):
            size = side.shape[2:]
            target = F.interpolate(label.float(), size,
                                   mode='nearest').long().squeeze(1)
            rate = round(label.shape[2] / size[0])
            for loss_decode in losses_decode:
                key = f'{loss_decode.loss_name}_down{rate}'
                value = weight * loss_decode(
                    side, target, ignore_index=self.ignore_index)
                losses[key] = losses.get(key, 0) + value
        return losses

