"""Photometric distortion of the RGB channels only: H x W x C in, same out.

Shorthand: H x W spatial size, C stacked channels.

mmseg 1.2.2's ``PhotoMetricDistortion`` converts the whole image with
``bgr2hsv`` and silently drops every channel beyond the third; this transform
touches only the channels of one modality (``rgb``) and leaves depth, HHA and
IR exactly as they were.
"""
from typing import Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RGBPhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation and hue on the RGB channels.

    Each distortion is applied with probability 0.5 in mmseg's order
    (brightness, contrast before or after the HSV changes, saturation, hue).
    Values stay in 0..255 (float32, RGB order).

    Args:
        modality (str): the modality to distort. Defaults to ``'rgb'``; it
            must have 3 channels.
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
                 modality: str = 'rgb',
                 brightness_delta: float = 32,
                 contrast_range: Tuple[float, float] = (0.5, 1.5),
                 saturation_range: Tuple[float, float] = (0.5, 1.5),
                 hue_delta: float = 18):
        self.modality = modality
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def _slice(self, results: dict) -> slice:
        names = results.get('modalities')
        chans = results.get('modality_channels')
        if names is None or chans is None:
            raise KeyError('the sample has no `modalities`/'
                           '`modality_channels`; load it with '
                           'LoadMultiModalImages first')
        if self.modality not in names:
            raise ValueError(f'`modality` {self.modality!r} is not among the '
                             f'loaded modalities {list(names)}')
        i = list(names).index(self.modality)
        if chans[i] != 3:
            raise ValueError(f'`modality` {self.modality!r} has {chans[i]} '
                             'channels; photometric distortion needs 3')
        start = sum(chans[:i])
        return slice(start, start + 3)

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
        sl = self._slice(results)
        img = results['img'].astype(np.float32, copy=True)
        img[..., sl] = self._distort(np.ascontiguousarray(img[..., sl]))
        results['img'] = img
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(modality={self.modality!r}, '
                f'brightness_delta={self.brightness_delta}, '
                f'contrast_range={self.contrast_range}, '
                f'saturation_range={self.saturation_range}, '
                f'hue_delta={self.hue_delta})')
