"""ESANet's context module and skip projections, the neck of its decoder.

Shorthand: B batch, C_l channels of level l; levels 1/4, 1/8, 1/16, 1/32 of
the input.

ESANet (Seichter et al., ICRA 2021), as the DMRNet and MMANet NYUDv2 /
SUN RGB-D code sets it::

    context = PPM(f32)                          (B, 512, H/32, W/32)
    s16, s8, s4 = 1x1 ConvBNReLU(f16, f8, f4)   (512, 256, 128 channels)

``PPM`` pools to each of ``pool_scales`` (ESANet's 'ppm': 1 and 5 bins),
projects each to C / len(bins) channels, upsamples them (nearest, as ESANet
does when the decoder uses learned upsampling), concatenates them with its
input and projects to 512 channels. The decoder is
:class:`~mm_incomplete.models.decode_heads.ESANetHead`; the methods share
this neck between their decoders (see there).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS


class PyramidPoolingContext(BaseModule):
    """ESANet's pyramid-pooling context module.

    Args:
        in_channels (int): C of the deepest feature.
        channels (int): output channels (512 in the papers' setting).
        pool_scales (Sequence[int]): bins (ESANet's 'ppm': (1, 5)).
        upsampling (str): 'nearest' (ESANet with learned decoder
            upsampling) or 'bilinear'.
        norm_cfg (dict): norm layer.

    Example:
        >>> ppm = PyramidPoolingContext(16, 8)
        >>> ppm(torch.randn(2, 16, 4, 5)).shape
        torch.Size([2, 8, 4, 5])
    """

    def __init__(self, in_channels: int, channels: int,
                 pool_scales: Sequence[int] = (1, 5),
                 upsampling: str = 'nearest',
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        if upsampling not in ('nearest', 'bilinear'):
            raise ValueError("the context module upsamples with 'nearest' or "
                             f"'bilinear', got {upsampling!r}")
        reduced = in_channels // len(pool_scales)
        self.pool_scales = tuple(pool_scales)
        self.upsampling = upsampling
        self.stages = nn.ModuleList(
            ConvModule(in_channels, reduced, 1, norm_cfg=norm_cfg)
            for _ in self.pool_scales)
        self.bottleneck = ConvModule(in_channels + reduced * len(pool_scales),
                                     channels, 1, norm_cfg=norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        outs = [x]
        for scale, stage in zip(self.pool_scales, self.stages):
            y = stage(F.adaptive_avg_pool2d(x, scale))
            outs.append(F.interpolate(
                y, size, mode=self.upsampling,
                **({} if self.upsampling == 'nearest' else
                   dict(align_corners=False))))
        return self.bottleneck(torch.cat(outs, 1))


@MODELS.register_module()
class ESANetContextNeck(BaseModule):
    """ESANet's context module on the deepest level and 1x1 skip projections.

    Args:
        in_channels (Sequence[int]): channels of the four backbone levels
            (1/4 ... 1/32), e.g. ``[256, 512, 1024, 2048]``.
        skip_channels (Sequence[int]): channels of the projected 1/4, 1/8,
            1/16 skips; must equal the decoder channels in reverse
            (``(128, 256, 512)``). A level that already has them passes
            unchanged (ESANet's rule).
        context_channels (int): output channels of the context module (512).
        pool_scales (Sequence[int]): its bins (ESANet's 'ppm': ``(1, 5)``).
        context_upsampling (str): how the pooled maps are upsampled.
        norm_cfg (dict): norm layer.
        init_cfg (dict, optional): mmengine initialisation config.

    Example:
        >>> neck = ESANetContextNeck([8, 16, 32, 64], skip_channels=(4, 8, 16),
        ...                          context_channels=16)
        >>> feats = [torch.randn(2, c, 32 // 2**i, 32 // 2**i)
        ...          for i, c in enumerate([8, 16, 32, 64])]
        >>> [tuple(o.shape[1:]) for o in neck(feats)]
        [(4, 32, 32), (8, 16, 16), (16, 8, 8), (16, 4, 4)]
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 skip_channels: Sequence[int] = (128, 256, 512),
                 context_channels: int = 512,
                 pool_scales: Sequence[int] = (1, 5),
                 context_upsampling: str = 'nearest',
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        in_channels, skip_channels = list(in_channels), list(skip_channels)
        if len(in_channels) != 4 or len(skip_channels) != 3:
            raise ValueError(
                'ESANetContextNeck needs four input levels (1/4 ... 1/32) and '
                f'three skip_channels, got in_channels={in_channels}, '
                f'skip_channels={skip_channels}')
        self.in_channels = in_channels
        self.out_channels = skip_channels + [context_channels]
        self.skips = nn.ModuleList(
            nn.Identity() if c_in == c_out else
            ConvModule(c_in, c_out, 1, norm_cfg=norm_cfg)
            for c_in, c_out in zip(in_channels[:3], skip_channels))
        self.context = PyramidPoolingContext(
            in_channels[3], context_channels, pool_scales,
            context_upsampling, norm_cfg)

    def forward(self, inputs: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, ...]:
        """Four levels (B, C_l, h_l, w_l) -> (s4, s8, s16, context)."""
        if len(inputs) != 4:
            raise ValueError(f'ESANetContextNeck expects 4 levels, got '
                             f'{len(inputs)}')
        for i, (x, c) in enumerate(zip(inputs, self.in_channels)):
            if x.shape[1] != c:
                raise ValueError(f'ESANetContextNeck level {i}: expected '
                                 f'{c} channels, got {x.shape[1]}')
        skips = [proj(x) for proj, x in zip(self.skips, inputs[:3])]
        return tuple(skips) + (self.context(inputs[3]), )
