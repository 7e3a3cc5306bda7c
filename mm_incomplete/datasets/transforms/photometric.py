"""Photometric distortion of the colour channels only: H x W x C in, same out.

Shorthand: H x W spatial size, C stacked channels.

mmseg 1.2.2's ``PhotoMetricDistortion`` converts the whole image with
``bgr2hsv`` and silently drops every channel beyond the third; this transform
touches only the channels of the ``colour``-kind modalities (RGB; see
``ModalityLayout``) and leaves ``depth`` and ``other`` modalities (depth,
HHA, IR) exactly as they were, whatever their names.
"""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from .sample_layout import sample_layout


@TRANSFORMS.register_module()
class RGBPhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation and hue on the colour channels.

    Each distortion is applied with probability 0.5 in mmseg's order
    (brightness, contrast before or after the HSV changes, saturation, hue).
    Values stay in 0..255 (float32, RGB order). Each colour modality gets its
    own draw.

    Args:
        modality (str | Sequence[str], optional): the modalities to distort,
            overriding the kinds by name; each must have 3 channels.
            ``None`` (default): every ``colour``-kind modality of the sample
            (there must be at least one).
        brightness_delta (float): max added brightness.
        contrast_range (tuple[float, float]): range of the contrast factor.
        saturation_range (tuple[float, float]): range of the saturation factor.
        hue_delta (float): max hue shift in degrees of the 0..180 OpenCV scale
            (as mmseg; it is doubled for the 0..360 float HSV used here).

    Example:
        >>> import numpy as np
        >>> img = np.full((2, 2, 4), 100, np.float32)
        >>> r = dict(img=img.copy(), modalities=('rgb', 'depth'),
        ...          modality_channels=(3, 1))
        >>> out = RGBPhotoMetricDistortion()(r)
        >>> out['img'].shape, bool((out['img'][..., 3] == 100).all())
        ((2, 2, 4), True)
    """

    def __init__(self,
                 modality: Union[None, str, Sequence[str]] = None,
                 brightness_delta: float = 32,
                 contrast_range: Tuple[float, float] = (0.5, 1.5),
                 saturation_range: Tuple[float, float] = (0.5, 1.5),
                 hue_delta: float = 18):
        if modality is not None and not isinstance(modality, str):
            modality = tuple(modality)
        self.modality = modality
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def _slices(self, results: dict):
        """Channel slices of the modalities to distort."""
        what = type(self).__name__
        layout = sample_layout(results, what)
        if self.modality is None:
            names = layout.names_of_kind('colour')
            if not names:
                raise ValueError(
                    f'{what}: the sample has no colour-kind modality '
                    f'({dict(zip(layout.names, layout.kinds))}); remove the '
                    'transform or name the `modality` to distort')
        else:
            names = (self.modality, ) if isinstance(self.modality, str) \
                else self.modality
        slices = []
        for name in names:
            if name not in layout.names:
                raise ValueError(f'{what}: `modality` {name!r} is not among '
                                 f'the loaded modalities '
                                 f'{list(layout.names)}')
            ch = layout.channels[layout.index(name)]
            if ch != 3:
                raise ValueError(f'{what}: `modality` {name!r} has {ch} '
                                 'channels; photometric distortion needs 3')
            slices.append(layout.channel_slice(name))
        return slices

    def _distort(self, rgb: np.ndarray) -> np.ndarray:
        rand = np.random
        if rand.randint(2):
            rgb = rgb + rand.uniform(-self.brightness_delta,
                                     self.brightness_delta)
        contrast_first = rand.randint(2)
        if contrast_first and rand.randint(2):
            rgb = rgb * rand.uniform(*self.contrast_range)
        rgb = np.clip(rgb, 0, 255).astype(np.float32)
        do_sat, do_hue = rand.randint(2), rand.randint(2)
        if do_sat or do_hue:
            hsv = cv2.cvtColor(rgb / 255.0, cv2.COLOR_RGB2HSV)
            if do_sat:
                hsv[..., 1] = np.clip(
                    hsv[..., 1] * rand.uniform(*self.saturation_range), 0, 1)
            if do_hue:
                shift = 2 * rand.uniform(-self.hue_delta, self.hue_delta)
                hsv[..., 0] = (hsv[..., 0] + shift) % 360.0
            rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
        if not contrast_first and rand.randint(2):
            rgb = rgb * rand.uniform(*self.contrast_range)
        return np.clip(rgb, 0, 255).astype(np.float32)

    def transform(self, results: dict) -> dict:
        slices = self._slices(results)
        img = results['img'].astype(np.float32, copy=True)
        for sl in slices:
            img[..., sl] = self._distort(np.ascontiguousarray(img[..., sl]))
        results['img'] = img
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(modality={self.modality!r}, '
                f'brightness_delta={self.brightness_delta}, '
                f'contrast_range={self.contrast_range}, '
                f'saturation_range={self.saturation_range}, '
                f'hue_delta={self.hue_delta})')
