"""Load every modality of a sample and stack them: H x W x C float32.

Shorthand: M modalities, C stacked channels (sum over modalities), H x W
spatial size.

Each modality is decoded by its kind (``ModalityLayout.kind``: declared in
the layout, e.g. ``'ir:1:other'``, or inferred from the names ``rgb``,
``depth``, ``hha``, ``ir``), not by its name. Units after loading (see
``docs/conventions.md``):

- ``colour`` and ``other`` modalities (RGB, HHA, IR, 8-bit depth
  visualisations): 8-bit files, values 0..255 as float32, colour channels in
  **RGB** order;
- ``depth`` modalities: single-channel uint16 files (PNG) divided by
  ``depth_scale`` (1000 for our millimetre PNGs) give **metres**; float files
  (``.npy``, 32-bit TIFF) are divided by ``depth_scale`` too, so float depth
  in metres needs ``depth_scale=1``. A wrong unit is caught: the median of the
  valid depths of every file must lie in ``depth_median_range`` (0.05 to 50 m
  by default), or the error names the file, the median and the scale.

The kinds the sample was loaded with are written to
``results['modality_kinds']``; the geometric and photometric transforms
follow them.

Depth hole policy: 0 means "no measurement" and stays 0. Non-finite values
(NaN, +-inf) and negative values in float files become holes (0); with
``max_depth`` set, depths beyond it become holes too. Holes are never filled
here; geometric transforms use nearest interpolation on depth so a hole is
never blended into its neighbours.
"""
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from mm_incomplete.modality import ModalityLayout
from .io import describe, read_image


@TRANSFORMS.register_module()
class LoadMultiModalImages(BaseTransform):
    """Load the files of every modality and stack them in layout order.

    Required keys: ``modality_paths`` (dict name -> path).

    Added keys: ``img`` (H, W, C) float32, ``img_path`` (the RGB file, or the
    first modality's), ``img_shape``, ``ori_shape``, ``modalities`` (names in
    layout order), ``modality_channels`` (channel counts in layout order),
    ``modality_kinds`` (kinds in layout order).

    Args:
        modalities (dict | str | list | ModalityLayout): the layout, e.g.
            ``dict(rgb=3, depth=1)`` or ``'rgb:3,depth:1:other'``. Optional
            when the dataset fills it in (the multi-modal datasets give
            their ``modalities`` to a loading step that has none).
        depth_modalities (Sequence[str], optional): deprecated override of
            the kinds: the modalities decoded as depth (metres), every other
            one is decoded as an 8-bit map (kind ``other`` unless it is
            ``colour``). ``None`` (default): the layout's ``depth``-kind
            modalities. Prefer declaring the kind in the layout
            (``'depth:1:other'`` for CASIA-SURF's 8-bit depth).
        depth_scale (float): file units per metre (1000 for millimetre PNGs).
        max_depth (float, optional): depths beyond this (metres) become holes.
        depth_median_range (tuple[float, float], optional): plausible range
            (metres) of a depth map's median over its valid pixels; a file
            outside it is an error (wrong ``depth_scale`` for its unit).
            ``None`` skips the check.
        to_gray (Sequence[str]): 8-bit modalities with 1 channel in the layout
            whose files may be colour; they are converted to grey. Without it a
            colour file for a 1-channel modality is an error.
        backend_args (dict, optional): mmengine file backend arguments.

    Example:
        >>> import numpy as np, cv2, tempfile, os.path as osp
        >>> d = tempfile.mkdtemp()
        >>> cv2.imwrite(osp.join(d, 'c.png'), np.zeros((4, 5, 3), np.uint8))
        True
        >>> cv2.imwrite(osp.join(d, 'd.png'), np.full((4, 5), 1500, np.uint16))
        True
        >>> load = LoadMultiModalImages(dict(rgb=3, depth=1))
        >>> out = load(dict(modality_paths=dict(rgb=osp.join(d, 'c.png'),
        ...                                     depth=osp.join(d, 'd.png'))))
        >>> out['img'].shape, float(out['img'][0, 0, 3])
        ((4, 5, 4), 1.5)
    """

    def __init__(self,
                 modalities=None,
                 depth_modalities: Optional[Sequence[str]] = None,
                 depth_scale: float = 1000.0,
                 max_depth: Optional[float] = None,
                 depth_median_range: Optional[Sequence[float]] = (0.05, 50.0),
                 to_gray: Sequence[str] = (),
                 backend_args: Optional[dict] = None):
        if modalities is None:
            raise ValueError(
                'LoadMultiModalImages needs `modalities` (the layout, e.g. '
                "'rgb:3,depth:1'); in a dataset's pipeline the dataset fills "
                'it in from its own `modalities`')
        self.layout = ModalityLayout(modalities, 'modalities')
        kinds = self.layout.kinds  # raises for a name without a kind
        if depth_modalities is None:
            depth_modalities = self.layout.names_of_kind('depth')
        for opt, names in (('depth_modalities', depth_modalities),
                           ('to_gray', to_gray)):
            if isinstance(names, str):
                raise TypeError(f'`{opt}` must be a list of modality names, '
                                f'got the string {names!r}')
            unknown = [n for n in names if n not in self.layout.names]
            if unknown:
                raise ValueError(f'`{opt}` names {unknown}, which are not in '
                                 f'`modalities` {list(self.layout.names)}')
        for name in depth_modalities:
            if self.layout.channels[self.layout.index(name)] != 1:
                raise ValueError(f'`depth_modalities`: {name!r} must have 1 '
                                 'channel in `modalities`')
        if not depth_scale > 0:
            raise ValueError(f'`depth_scale` must be > 0, got {depth_scale}')
        self.depth_modalities = tuple(depth_modalities)
        # the kinds this loader decodes with (the override applied)
        self.kinds = tuple(
            'depth' if n in self.depth_modalities else
            ('other' if k == 'depth' else k)
            for n, k in zip(self.layout.names, kinds))
        self.depth_scale = float(depth_scale)
        self.max_depth = max_depth
        if depth_median_range is not None:
            low, high = (float(v) for v in depth_median_range)
            if not 0 <= low < high:
                raise ValueError('`depth_median_range` must be (low, high) '
                                 f'metres with 0 <= low < high, got '
                                 f'{depth_median_range}')
            depth_median_range = (low, high)
        self.depth_median_range = depth_median_range
        self.to_gray = tuple(to_gray)
        self.backend_args = backend_args

    # -- per-modality decoding ------------------------------------------
    def decode_modality(self, name: str, source) -> np.ndarray:
        """One modality from a file path or an array: (H, W, C_m) float32.

        An array is taken as the decoded content of that modality's file
        (colour images in **RGB** order, uint8; depth uint16 or float in
        units of ``1 / depth_scale`` m), so it passes the same checks and
        unit conversion as a file does. Used by
        :class:`mm_incomplete.apis.MultiModalInferencer`.
        """
        if name not in self.layout.names:
            raise KeyError(f'{name!r} is not a modality of '
                           f'{list(self.layout.names)}')
        if isinstance(source, np.ndarray):
            raw, where = np.ascontiguousarray(source), '(array input)'
            if raw.ndim not in (2, 3):
                raise ValueError(f'{name!r} array has shape {raw.shape}; '
                                 'expected (H, W) or (H, W, C)')
        else:
            where = str(source)
            raw = read_image(where, f'{name!r}', self.backend_args)
        if name in self.depth_modalities:
            return self._depth_from(raw, where, name)
        channels = self.layout.channels[self.layout.index(name)]
        return self._8bit_from(raw, where, name, channels)

    def _load_depth(self, path: str, name: str) -> np.ndarray:
        raw = read_image(path, f'{name!r}', self.backend_args)
        return self._depth_from(raw, path, name)

    def _depth_from(self, raw: np.ndarray, path: str,
                    name: str) -> np.ndarray:
        if raw.ndim == 3 and raw.shape[2] == 1:
            raw = raw[..., 0]
        if raw.ndim != 2 or not (raw.dtype == np.uint16
                                 or np.issubdtype(raw.dtype, np.floating)):
            raise ValueError(
                f'{name!r} file {path} is {describe(raw)}; expected a '
                'single-channel uint16 depth image (units of 1/depth_scale '
                f'm, depth_scale={self.depth_scale:g}) or a float array')
        depth = raw.astype(np.float32) / self.depth_scale
        invalid = ~np.isfinite(depth) | (depth < 0)
        if self.max_depth is not None:
            invalid |= depth > self.max_depth
        depth[invalid] = 0.0
        self._check_depth_unit(depth, raw, path, name)
        return depth[..., None]

    def _check_depth_unit(self, depth: np.ndarray, raw: np.ndarray,
                          path: str, name: str) -> None:
        """The median valid depth must be plausible in metres."""
        if self.depth_median_range is None:
            return
        valid = depth > 0
        if not valid.any():
            return  # an all-hole map says nothing about its unit
        median = float(np.median(depth[valid]))
        low, high = self.depth_median_range
        if low <= median <= high:
            return
        raw_median = float(np.median(raw[valid]))
        kind = 'float' if np.issubdtype(raw.dtype, np.floating) else 'uint16'
        hint = ('; float depth already in metres needs depth_scale=1'
                if kind == 'float' else '')
        raise ValueError(
            f'{name!r} file {path}: median depth {median:.4g} m (file value '
            f'{raw_median:.4g} / depth_scale={self.depth_scale:g}) lies '
            f'outside the plausible {low:g}..{high:g} m; set `depth_scale` '
            f'to the file\'s units per metre ({kind} file){hint}, or '
            '`depth_median_range`')

    def _load_8bit(self, path: str, name: str, channels: int) -> np.ndarray:
        img = read_image(path, f'{name!r}', self.backend_args)
        return self._8bit_from(img, path, name, channels)

    def _8bit_from(self, img: np.ndarray, path: str, name: str,
                   channels: int) -> np.ndarray:
        if img.dtype != np.uint8:
            raise ValueError(f'{name!r} file {path} is {describe(img)}; '
                             f'expected an 8-bit image with {channels} '
                             'channel(s)')
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]  # drop alpha
        if img.ndim == 2:
            img = img[..., None]
        have = img.shape[2]
        if have == 3 and channels == 1 and name in self.to_gray:
            img = (img.astype(np.float32) @ np.array(
                [0.299, 0.587, 0.114], np.float32))[..., None]
            have = 1
        if have != channels:
            hint = (f'; add {name!r} to `to_gray` to convert colour to grey'
                    if have == 3 and channels == 1 else '')
            raise ValueError(f'{name!r} file {path} has {have} channel(s); '
                             f'`modalities` expects {channels}{hint}')
        return img.astype(np.float32)

    def transform(self, results: dict) -> dict:
        paths: Dict[str, str] = results.get('modality_paths') or {}
        arrays, first = [], None
        for name, channels in zip(self.layout.names, self.layout.channels):
            if name not in paths:
                raise KeyError(
                    f'the sample has no file for modality {name!r} of '
                    f'`modalities`; it provides {sorted(paths)} '
                    f'(sample: {results.get("img_path", "?")})')
            path = paths[name]
            if name in self.depth_modalities:
                arr = self._load_depth(path, name)
            else:
                arr = self._load_8bit(path, name, channels)
            if first is None:
                first = (path, arr.shape[:2])
            elif arr.shape[:2] != first[1]:
                raise ValueError(
                    f'modalities differ in size: {first[0]} is '
                    f'{first[1][0]}x{first[1][1]} but {path} is '
                    f'{arr.shape[0]}x{arr.shape[1]} (H x W)')
            arrays.append(arr)
        img = np.concatenate(arrays, axis=2).astype(np.float32, copy=False)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        results['img_path'] = paths.get('rgb', paths[self.layout.names[0]])
        results['modalities'] = self.layout.names
        results['modality_channels'] = self.layout.channels
        results['modality_kinds'] = self.kinds
        results['modality_paths'] = {n: paths[n] for n in self.layout.names}
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.layout!r}, '
                f'kinds={self.kinds}, '
                f'depth_scale={self.depth_scale:g}, '
                f'max_depth={self.max_depth}, '
                f'depth_median_range={self.depth_median_range}, '
                f'to_gray={self.to_gray})')

