"""Geometric transforms applied identically to every modality and the label.

Shorthand: H x W spatial size, C stacked channels.

``results['img']`` is (H, W, C) with the modalities stacked in layout order
(``results['modalities']``, ``results['modality_channels']``,
``results['modality_kinds']``, written by :class:`LoadMultiModalImages`).
Interpolation follows each modality's kind: bilinear for ``colour`` and
``other`` modalities (RGB, HHA, IR, 8-bit depth visualisations), **nearest**
for ``depth`` so that a depth hole (0) is never blended into its neighbours,
and nearest for every map in ``results['seg_fields']`` (labels). The
``nearest_modalities`` option overrides the kinds by name. Padding writes 0
into the modalities (a hole for depth) and ``seg_pad_val`` (255, ignored)
into the labels.
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from .sample_layout import sample_layout

_INTERP = dict(bilinear=cv2.INTER_LINEAR, nearest=cv2.INTER_NEAREST)


def _groups(results: dict, nearest_modalities: Optional[Sequence[str]],
            what: str) -> List[Tuple[slice, int]]:
    """(channel slice, cv2 interpolation) per modality of ``results``:
    nearest for the ``depth`` kind, or for ``nearest_modalities`` when
    given."""
    layout = sample_layout(results, what)
    if nearest_modalities is None:
        nearest = layout.names_of_kind('depth')
    else:
        unknown = [n for n in nearest_modalities if n not in layout.names]
        if unknown:
            raise ValueError(f'{what}: `nearest_modalities` names {unknown},'
                             f' which are not among the sample\'s '
                             f'modalities {list(layout.names)}')
        nearest = tuple(nearest_modalities)
    return [(layout.channel_slice(n),
             _INTERP['nearest' if n in nearest else 'bilinear'])
            for n in layout.names]


def _check_nearest(nearest_modalities) -> Optional[Tuple[str, ...]]:
    if nearest_modalities is None:
        return None
    if isinstance(nearest_modalities, str):
        raise TypeError('`nearest_modalities` must be a list of modality '
                        f'names, got the string {nearest_modalities!r}')
    return tuple(nearest_modalities)


def _apply(img: np.ndarray, groups, fn) -> np.ndarray:
    """Apply ``fn(channels (H, W, C_m), interp)`` per modality and restack."""
    parts = []
    for sl, interp in groups:
        part = fn(np.ascontiguousarray(img[..., sl]), interp)
        if part.ndim == 2:
            part = part[..., None]
        parts.append(part)
    return np.concatenate(parts, axis=2)


def _resize_results(results: dict, size_wh: Tuple[int, int],
                    nearest_modalities, what: str) -> None:
    """Resize img and seg maps to ``size_wh`` = (W, H) in place."""
    h, w = results['img'].shape[:2]
    groups = _groups(results, nearest_modalities, what)
    results['img'] = _apply(
        results['img'], groups,
        lambda a, i: cv2.resize(a, size_wh, interpolation=i))
    for key in results.get('seg_fields', []):
        results[key] = cv2.resize(
            results[key], size_wh, interpolation=cv2.INTER_NEAREST)
    new_w, new_h = size_wh
    results['img_shape'] = (new_h, new_w)
    old = results.get('scale_factor', (1.0, 1.0))
    results['scale_factor'] = (old[0] * new_w / w, old[1] * new_h / h)


def _rescaled_size(h: int, w: int, scale, keep_ratio: bool
                   ) -> Tuple[int, int]:
    """Target (W, H). ``scale`` is (W, H) as in mmcv; with ``keep_ratio`` the
    image is scaled to fit in it (long edge <= max, short edge <= min)."""
    if not keep_ratio:
        return int(scale[0]), int(scale[1])
    long_e, short_e = max(scale), min(scale)
    factor = min(long_e / max(h, w), short_e / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def _check_scale(scale, option='scale'):
    if (not isinstance(scale, (tuple, list)) or len(scale) != 2
            or not all(isinstance(s, (int, float)) and s > 0 for s in scale)):
        raise ValueError(f'`{option}` must be a (width, height) pair of '
                         f'positive numbers, got {scale!r}')
    return tuple(scale)


@TRANSFORMS.register_module()
class MultiModalResize(BaseTransform):
    """Resize every modality and label map to one size.

    Args:
        scale (tuple[int, int]): target (W, H) (mmcv convention).
        keep_ratio (bool): fit inside ``scale`` keeping the aspect ratio.
        nearest_modalities (Sequence[str], optional): modalities resized
            with nearest interpolation, overriding the kinds. ``None``
            (default): the ``depth``-kind modalities.

    Example:
        >>> import numpy as np
        >>> r = dict(img=np.zeros((4, 6, 4), np.float32),
        ...          modalities=('rgb', 'depth'), modality_channels=(3, 1),
        ...          gt_seg_map=np.zeros((4, 6), np.uint8),
        ...          seg_fields=['gt_seg_map'])
        >>> out = MultiModalResize(scale=(3, 2), keep_ratio=False)(r)
        >>> out['img'].shape, out['gt_seg_map'].shape
        ((2, 3, 4), (2, 3))
    """

    def __init__(self,
                 scale: Tuple[int, int],
                 keep_ratio: bool = True,
                 nearest_modalities: Optional[Sequence[str]] = None):
        self.scale = _check_scale(scale)
        self.keep_ratio = keep_ratio
        self.nearest_modalities = _check_nearest(nearest_modalities)

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        size = _rescaled_size(h, w, self.scale, self.keep_ratio)
        _resize_results(results, size, self.nearest_modalities,
                        type(self).__name__)
        results['keep_ratio'] = self.keep_ratio
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio}, '
                f'nearest_modalities={self.nearest_modalities})')


@TRANSFORMS.register_module()
class MultiModalRandomResize(BaseTransform):
    """Resize by a random ratio of a base scale (mmseg's training resize).

    The target is ``scale * ratio`` with ``ratio ~ U(ratio_range)``.

    Args:
        scale (tuple[int, int]): base (W, H).
        ratio_range (tuple[float, float]): range of the random ratio.
        keep_ratio (bool): keep the aspect ratio (fit inside the target).
        nearest_modalities (Sequence[str]): see :class:`MultiModalResize`.

    Example:
        >>> import numpy as np
        >>> r = dict(img=np.zeros((8, 8, 4), np.float32),
        ...          modalities=('rgb', 'depth'), modality_channels=(3, 1))
        >>> t = MultiModalRandomResize((8, 8), ratio_range=(0.5, 0.5))
        >>> t(r)['img'].shape
        (4, 4, 4)
    """

    def __init__(self,
                 scale: Tuple[int, int],
                 ratio_range: Tuple[float, float] = (0.5, 2.0),
                 keep_ratio: bool = True,
                 nearest_modalities: Optional[Sequence[str]] = None):
        self.scale = _check_scale(scale)
        lo, hi = ratio_range
        if not 0 < lo <= hi:
            raise ValueError(f'`ratio_range` must satisfy 0 < min <= max, '
                             f'got {ratio_range!r}')
        self.ratio_range = (float(lo), float(hi))
        self.keep_ratio = keep_ratio
        self.nearest_modalities = _check_nearest(nearest_modalities)

    def transform(self, results: dict) -> dict:
        ratio = np.random.uniform(*self.ratio_range)
        target = (self.scale[0] * ratio, self.scale[1] * ratio)
        h, w = results['img'].shape[:2]
        size = _rescaled_size(h, w, target, self.keep_ratio)
        size = (max(size[0], 1), max(size[1], 1))
        _resize_results(results, size, self.nearest_modalities,
                        type(self).__name__)
        results['keep_ratio'] = self.keep_ratio
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio})')


@TRANSFORMS.register_module()
class MultiModalRandomCrop(BaseTransform):
    """Crop one random window out of every modality and label map.

    An image smaller than ``crop_size`` is cropped to its own size along that
    axis (pad afterwards with :class:`MultiModalPad`). As in mmseg,
    ``cat_max_ratio < 1`` retries up to 10 times for a window where no single
    class covers more than that fraction of the labelled pixels.

    Args:
        crop_size (tuple[int, int]): (H, W) of the window (mmseg convention).
        cat_max_ratio (float): see above. Defaults to 1 (off).
        ignore_index (int): label ignored by ``cat_max_ratio``.

    Example:
        >>> import numpy as np
        >>> r = dict(img=np.zeros((8, 8, 4), np.float32))
        >>> MultiModalRandomCrop((4, 6))(r)['img'].shape
        (4, 6, 4)
    """

    def __init__(self,
                 crop_size: Tuple[int, int],
                 cat_max_ratio: float = 1.0,
                 ignore_index: int = 255):
        if (not isinstance(crop_size, (tuple, list)) or len(crop_size) != 2
                or not all(int(c) > 0 for c in crop_size)):
            raise ValueError(f'`crop_size` must be a positive (H, W) pair, '
                             f'got {crop_size!r}')
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _window(self, h: int, w: int) -> Tuple[int, int, int, int]:
        ch, cw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        y = np.random.randint(0, h - ch + 1)
        x = np.random.randint(0, w - cw + 1)
        return y, y + ch, x, x + cw

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        y1, y2, x1, x2 = self._window(h, w)
        seg = results.get('gt_seg_map')
        if self.cat_max_ratio < 1.0 and seg is not None:
            for _ in range(10):
                ids, counts = np.unique(seg[y1:y2, x1:x2], return_counts=True)
                counts = counts[ids != self.ignore_index]
                if len(counts) > 1 and \
                        counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                y1, y2, x1, x2 = self._window(h, w)
        results['img'] = results['img'][y1:y2, x1:x2].copy()
        for key in results.get('seg_fields', []):
            results[key] = results[key][y1:y2, x1:x2].copy()
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = (x1, y1, x2, y2)
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio})')


@TRANSFORMS.register_module()
class MultiModalRandomFlip(BaseTransform):
    """Flip every modality and label map together.

    Args:
        prob (float): probability of flipping.
        direction (str): ``'horizontal'`` or ``'vertical'``.

    Example:
        >>> import numpy as np
        >>> r = dict(img=np.arange(3, dtype=np.float32).reshape(1, 3, 1))
        >>> MultiModalRandomFlip(prob=1.0)(r)['img'].ravel().tolist()
        [2.0, 1.0, 0.0]
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'`prob` must lie in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError('`direction` must be "horizontal" or '
                             f'"vertical", got {direction!r}')
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        if flip:
            axis = 1 if self.direction == 'horizontal' else 0
            results['img'] = np.flip(results['img'], axis).copy()
            for key in results.get('seg_fields', []):
                results[key] = np.flip(results[key], axis).copy()
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


@TRANSFORMS.register_module()
class MultiModalRandomRotate(BaseTransform):
    """Rotate every modality and label map by one random angle.

    Uncovered corners get 0 in the modalities (a hole in depth) and
    ``seg_pad_val`` in the labels.

    Args:
        prob (float): probability of rotating.
        degree (float | tuple[float, float]): angle range; a number ``d``
            means ``(-d, d)``.
        seg_pad_val (int): label for uncovered pixels. Defaults to 255.
        nearest_modalities (Sequence[str]): see :class:`MultiModalResize`.

    Example:
        >>> import numpy as np
        >>> r = dict(img=np.ones((5, 5, 4), np.float32),
        ...          modalities=('rgb', 'depth'), modality_channels=(3, 1))
        >>> out = MultiModalRandomRotate(prob=1.0, degree=(45, 45))(r)
        >>> out['img'].shape, float(out['img'][0, 0, 3])
        ((5, 5, 4), 0.0)
    """

    def __init__(self,
                 prob: float,
                 degree: Union[float, Tuple[float, float]],
                 seg_pad_val: int = 255,
                 nearest_modalities: Optional[Sequence[str]] = None):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'`prob` must lie in [0, 1], got {prob}')
        if isinstance(degree, (int, float)):
            degree = (-abs(degree), abs(degree))
        self.prob = prob
        self.degree = tuple(float(d) for d in degree)
        self.seg_pad_val = seg_pad_val
        self.nearest_modalities = _check_nearest(nearest_modalities)

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        angle = np.random.uniform(*self.degree)
        h, w = results['img'].shape[:2]
        mat = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
        groups = _groups(results, self.nearest_modalities,
                         type(self).__name__)
        results['img'] = _apply(
            results['img'], groups, lambda a, i: cv2.warpAffine(
                a, mat, (w, h), flags=i, borderMode=cv2.BORDER_CONSTANT,
                borderValue=0))
        for key in results.get('seg_fields', []):
            results[key] = cv2.warpAffine(
                results[key], mat, (w, h), flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT, borderValue=self.seg_pad_val)
        results['rotate_angle'] = angle
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'degree={self.degree})')


@TRANSFORMS.register_module()
class MultiModalPad(BaseTransform):
    """Pad every modality and label map at the bottom/right to ``size``.

    Args:
        size (tuple[int, int]): minimum (H, W) after padding.
        pad_val (float): value for the modalities (0 = hole for depth).
        seg_pad_val (int): value for the labels (255 = ignored).

    Example:
        >>> import numpy as np
        >>> r = dict(img=np.ones((2, 2, 4), np.float32),
        ...          gt_seg_map=np.ones((2, 2), np.uint8),
        ...          seg_fields=['gt_seg_map'])
        >>> out = MultiModalPad((3, 4))(r)
        >>> out['img'].shape, int(out['gt_seg_map'][2, 3])
        ((3, 4, 4), 255)
    """

    def __init__(self,
                 size: Tuple[int, int],
                 pad_val: float = 0.0,
                 seg_pad_val: int = 255):
        self.size = (int(size[0]), int(size[1]))
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    @staticmethod
    def _pad(arr: np.ndarray, h: int, w: int, val) -> np.ndarray:
        ph, pw = max(h - arr.shape[0], 0), max(w - arr.shape[1], 0)
        if ph == 0 and pw == 0:
            return arr
        widths = [(0, ph), (0, pw)] + [(0, 0)] * (arr.ndim - 2)
        return np.pad(arr, widths, constant_values=val)

    def transform(self, results: dict) -> dict:
        h, w = self.size
        results['img'] = self._pad(results['img'], h, w, self.pad_val)
        for key in results.get('seg_fields', []):
            results[key] = self._pad(results[key], h, w, self.seg_pad_val)
        results['pad_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')

