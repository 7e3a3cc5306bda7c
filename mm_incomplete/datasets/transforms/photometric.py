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


def modality_slice(results: dict, modality: str, channels: int = 3
                   ) -> slice:
    """The channel slice of ``modality`` in ``results['img']``; it must
    have ``channels`` channels."""
    names = results.get('modalities')
    chans = results.get('modality_channels')
    if names is None or chans is None:
        raise KeyError('the sample has no `modalities`/`modality_channels`; '
                       'load it with LoadMultiModalImages first')
    if modality not in names:
        raise ValueError(f'`modality` {modality!r} is not among the loaded '
                         f'modalities {list(names)}')
    i = list(names).index(modality)
    if chans[i] != channels:
        raise ValueError(f'`modality` {modality!r} has {chans[i]} channels; '
                         f'this transform needs {channels}')
    start = sum(chans[:i])
    return slice(start, start + channels)


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


@TRANSFORMS.register_module()
class RGBRandomHSV(BaseTransform):
    """ESANet's colour jitter: hue, saturation and value each multiplied by
    a random factor and clipped, on the RGB channels only.

    As ESANet's ``RandomHSV`` (the official NYUDv2 / SUN RGB-D augmentation
    of ESANet, DMRNet and MMANet): RGB in [0, 1] to HSV with hue in [0, 1),
    ``h *= U(h_range)``, ``s *= U(s_range)``, ``v *= U(v_range)``, each
    clipped to [0, 1], back to RGB 0..255. (ESANet truncates the result to
    uint8; here it stays float32.)

    Args:
        modality (str): the 3-channel modality to jitter (``'rgb'``).
        h_range, s_range, v_range (tuple[float, float]): factor ranges,
            ESANet's ``(0.9, 1.1)`` each.

    Example:
        >>> import numpy as np
        >>> img = np.concatenate([np.full((2, 2, 3), 100, np.float32),
        ...                       np.full((2, 2, 1), 2.5, np.float32)], 2)
        >>> r = dict(img=img, modalities=('rgb', 'depth'),
        ...          modality_channels=(3, 1))
        >>> out = RGBRandomHSV()(r)
        >>> out['img'].shape, bool((out['img'][..., 3] == 2.5).all())
        ((2, 2, 4), True)
    """

    def __init__(self,
                 modality: str = 'rgb',
                 h_range: Tuple[float, float] = (0.9, 1.1),
                 s_range: Tuple[float, float] = (0.9, 1.1),
                 v_range: Tuple[float, float] = (0.9, 1.1)):
        for name, rng in (('h_range', h_range), ('s_range', s_range),
                          ('v_range', v_range)):
            if len(rng) != 2 or not 0 <= min(rng):
                raise ValueError(f'`{name}` must be two factors >= 0, got '
                                 f'{rng!r}')
        self.modality = modality
        self.h_range = (min(h_range), max(h_range))
        self.s_range = (min(s_range), max(s_range))
        self.v_range = (min(v_range), max(v_range))

    def jitter(self, rgb: np.ndarray, factors) -> np.ndarray:
        """RGB (H, W, 3) 0..255 with HSV scaled by ``factors`` (h, s, v)."""
        hsv = cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.float32) / 255.0,
                           cv2.COLOR_RGB2HSV)
        hsv[..., 0] = np.clip(hsv[..., 0] / 360.0 * factors[0], 0, 1) * 360.0
        hsv[..., 1] = np.clip(hsv[..., 1] * factors[1], 0, 1)
        hsv[..., 2] = np.clip(hsv[..., 2] * factors[2], 0, 1)
        # cv2 wraps hue 360 to 0, as matplotlib does with hue 1
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0

    def transform(self, results: dict) -> dict:
        sl = modality_slice(results, self.modality)
        factors = [np.random.uniform(*r)
                   for r in (self.h_range, self.s_range, self.v_range)]
        img = results['img'].astype(np.float32, copy=True)
        img[..., sl] = self.jitter(np.ascontiguousarray(img[..., sl]),
                                   factors)
        results['img'] = img
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(modality={self.modality!r}, '
                f'h_range={self.h_range}, s_range={self.s_range}, '
                f'v_range={self.v_range})')
