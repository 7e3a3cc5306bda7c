"""Side-by-side panels: each modality | GT | prediction per combination.

Shorthand: H x W image size, C_m channels of one modality, K combinations,
N classes.

Pure numpy + OpenCV drawing shared by the inferencer
(:class:`mm_incomplete.apis.MultiModalInferencer`) and ``tools/test.py
--show-dir`` (:class:`.CombinationVisualizationHook`). Every tile is scaled
so that its shorter side is at least ``min_size`` pixels and carries a title
strip whose text height follows the tile size, so a 64 x 64 sample is still
readable. Images are RGB uint8 (H, W, 3).

- colour modalities (3 channels, 0..255) are shown as they are;
- single-channel modalities (depth in metres, IR, ...) are colour-mapped
  between their smallest and largest valid value (0 = hole stays black), and
  the title gives that range;
- segmentation labels are coloured with the dataset palette (ignored pixels
  black) and predictions are blended over the first colour modality;
- classification shows the class name and score of each combination.
"""
from typing import List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

MISSING_GREY = 96
IGNORE_INDEX = 255


def _as_uint8_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.clip(img[..., :3], 0, 255).astype(np.uint8)


def colorize_scalar(values: np.ndarray,
                    unit: str = '') -> Tuple[np.ndarray, str]:
    """Colour-map a single-channel map (H, W) -> (H, W, 3) uint8 and a range.

    Values <= 0 and non-finite values are holes and stay black; the rest are
    stretched between their min and max (turbo colour map: near = blue).

    Returns:
        tuple: the image and a text like ``'0.52-4.10 m'`` (``'no valid
        values'`` when everything is a hole).
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 3:
        if values.shape[2] != 1:
            raise ValueError('colorize_scalar needs one channel, got shape '
                             f'{values.shape}')
        values = values[..., 0]
    valid = np.isfinite(values) & (values > 0)
    out = np.zeros(values.shape + (3, ), np.uint8)
    if not valid.any():
        return out, 'no valid values'
    lo, hi = float(values[valid].min()), float(values[valid].max())
    scaled = np.zeros(values.shape, np.uint8)
    span = hi - lo if hi > lo else 1.0
    scaled[valid] = np.clip((values[valid] - lo) / span * 255, 0, 255)
    mapped = cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO)[..., ::-1]
    out[valid] = mapped[valid]
    return out, f'{lo:.2f}-{hi:.2f}{(" " + unit) if unit else ""}'


def colorize_labels(label: np.ndarray,
                    palette: Sequence[Sequence[int]],
                    ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 palette colours; ignored = black.

    Raises:
        ValueError: a class id has no palette entry (names the id).
    """
    label = np.asarray(label).astype(np.int64)
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    out = np.zeros(label.shape + (3, ), np.uint8)
    valid = label != ignore_index
    if valid.any() and label[valid].max() >= len(palette):
        raise ValueError(f'class id {int(label[valid].max())} has no colour '
                         f'in the palette of {len(palette)} entries')
    if valid.any() and label[valid].min() < 0:
        raise ValueError(f'negative class id {int(label[valid].min())}')
    out[valid] = palette[label[valid]]
    return out


def default_palette(num_classes: int, seed: int = 0) -> List[List[int]]:
    """A fixed random palette (as mmseg draws one) for datasets without."""
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(num_classes, 3)).tolist()


def scale_to(img: np.ndarray, min_size: int, nearest: bool) -> np.ndarray:
    """Resize so the shorter side is at least ``min_size`` (never shrink)."""
    h, w = img.shape[:2]
    factor = max(1.0, min_size / float(min(h, w)))
    if factor == 1.0:
        return img
    size = (int(round(w * factor)), int(round(h * factor)))
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=interp)


def titled(tile: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Put a white strip with ``lines`` of black text above ``tile``.

    The text height is about 1/12 of the tile width (at least 12 px), so
    it stays readable whatever the image size.
    """
    h, w = tile.shape[:2]
    line_h = max(14, w // 12)
    scale = line_h / 30.0
    thick = max(1, int(round(scale * 1.5)))
    strip = np.full((line_h * len(lines) + line_h // 3, w, 3), 255, np.uint8)
    for i, text in enumerate(lines):
        # shrink a line that does not fit the width
        s = scale
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, s, thick)
        if tw > w - 8:
            s = s * (w - 8) / tw
        cv2.putText(strip, text, (4, line_h * (i + 1) - line_h // 5),
                    cv2.FONT_HERSHEY_SIMPLEX, s, (0, 0, 0), thick,
                    cv2.LINE_AA)
    return np.concatenate([strip, tile], axis=0)


def hstack(tiles: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Tiles side by side, top-aligned, on white, ``gap`` px apart."""
    height = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for t in tiles:
        out[:t.shape[0], x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


def modality_tiles(image: np.ndarray,
                   names: Sequence[str],
                   channels: Sequence[int],
                   present: Optional[Sequence[bool]] = None,
                   units: Optional[Mapping[str, str]] = None
                   ) -> Tuple[List[np.ndarray], List[str], np.ndarray]:
    """Split the stacked (H, W, C) input into one display tile per modality.

    Args:
        image (ndarray): (H, W, C) raw stacked modalities (colour 0..255,
            depth in metres), layout order.
        names / channels: the layout.
        present (list[bool], optional): False shows the modality as a grey
            "missing" tile.
        units (dict, optional): unit per single-channel modality for its
            title (default ``{'depth': 'm'}``).

    Returns:
        tuple: the tiles, their titles and the base image predictions are
        blended on (the first present colour modality, else the first
        present tile).
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] != sum(channels):
        raise ValueError(f'image has {image.shape[2]} channels, the layout '
                         f'{dict(zip(names, channels))} has {sum(channels)}')
    units = dict(depth='m') if units is None else dict(units)
    present = [True] * len(names) if present is None else list(present)
    tiles, titles, base, first = [], [], None, None
    start = 0
    for name, ch, here in zip(names, channels, present):
        part = image[..., start:start + ch]
        start += ch
        if not here:
            tiles.append(np.full(part.shape[:2] + (3, ), MISSING_GREY,
                                 np.uint8))
            titles.append(f'{name}: missing')
            continue
        if ch == 3:
            tile = _as_uint8_rgb(part)
            titles.append(name)
            if base is None:
                base = tile
        elif ch == 1:
            tile, span = colorize_scalar(part, units.get(name, ''))
            titles.append(f'{name} ({span})')
        else:  # show the first three channels
            tile = _as_uint8_rgb(part[..., :3])
            titles.append(f'{name} (channels 1-3)')
        first = tile if first is None else first
        tiles.append(tile)
    if base is None:
        base = first if first is not None else tiles[0]
    return tiles, titles, base


def seg_panel(image: np.ndarray,
              names: Sequence[str],
              channels: Sequence[int],
              preds: Mapping[str, np.ndarray],
              palette: Sequence[Sequence[int]],
              gt: Optional[np.ndarray] = None,
              present: Optional[Sequence[bool]] = None,
              alpha: float = 0.5,
              min_size: int = 256,
              scores: Optional[Mapping[str, str]] = None) -> np.ndarray:
    """One segmentation sample: modalities | GT | prediction per combination.

    Args:
        image (ndarray): (H, W, C) raw stacked modalities, layout order.
        names / channels: the layout.
        preds (dict[str, ndarray]): ``{combination: (H, W) class ids}``.
        palette (list): one RGB colour per class.
        gt (ndarray, optional): (H, W) class ids, 255 ignored.
        present (list[bool], optional): modalities present in the input.
        alpha (float): weight of the prediction colours over the base image.
        min_size (int): shorter side of every tile, at least.
        scores (dict[str, str], optional): extra title text per combination
            (e.g. the sample's pixel accuracy).

    Returns:
        ndarray: (H', W', 3) uint8 RGB.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((8, 8, 4), np.float32)
        >>> out = seg_panel(img, ['rgb', 'depth'], [3, 1],
        ...                 {'rgb': np.zeros((8, 8), int)}, [[255, 0, 0]],
        ...                 min_size=32)
        >>> out.dtype, out.shape[1] > 3 * 32
        (dtype('uint8'), True)
    """
    tiles, titles, base = modality_tiles(image, names, channels, present)
    shape = tiles[0].shape[:2]
    if gt is not None:
        if gt.shape[:2] != shape:
            raise ValueError(f'ground truth is {gt.shape[:2]} but the image '
                             f'is {shape} (H, W)')
        tiles.append(colorize_labels(gt, palette))
        titles.append('ground truth')
    for combo, pred in preds.items():
        if pred.shape[:2] != shape:
            raise ValueError(f'prediction of {combo!r} is {pred.shape[:2]} '
                             f'but the image is {shape} (H, W)')
        colour = colorize_labels(pred, palette)
        blend = (base.astype(np.float32) * (1 - alpha) +
                 colour.astype(np.float32) * alpha).astype(np.uint8)
        tiles.append(blend)
        extra = f' {scores[combo]}' if scores and combo in scores else ''
        titles.append(f'pred: {combo}{extra}')
    out = [titled(scale_to(t, min_size, nearest=True), [title])
           for t, title in zip(tiles, titles)]
    return hstack(out)


def cls_panel(image: np.ndarray,
              names: Sequence[str],
              channels: Sequence[int],
              preds: Mapping[str, Tuple[int, float]],
              classes: Optional[Sequence[str]] = None,
              gt: Optional[int] = None,
              present: Optional[Sequence[bool]] = None,
              min_size: int = 256) -> np.ndarray:
    """One classification sample: modalities, then a text column.

    The text column lists the ground truth (when given) and, per
    combination, the predicted class and its score; a wrong prediction is
    marked ``(wrong)``.

    Args:
        image (ndarray): (H, W, C) raw stacked modalities, layout order.
        names / channels: the layout.
        preds (dict[str, tuple]): ``{combination: (class id, score)}``.
        classes (list[str], optional): class names (ids shown otherwise).
        gt (int, optional): the true class id.
        present (list[bool], optional): modalities present in the input.
        min_size (int): shorter side of every tile, at least.

    Returns:
        ndarray: (H', W', 3) uint8 RGB.

    Example:
        >>> import numpy as np
        >>> img = np.zeros((8, 8, 4), np.float32)
        >>> out = cls_panel(img, ['rgb', 'depth'], [3, 1], {'rgb': (0, .9)},
        ...                 ['cat'], gt=0, min_size=32)
        >>> out.dtype
        dtype('uint8')
    """
    tiles, titles, _ = modality_tiles(image, names, channels, present)
    tiles = [titled(scale_to(t, min_size, nearest=False), [title])
             for t, title in zip(tiles, titles)]

    def name_of(idx):
        idx = int(idx)
        return classes[idx] if classes is not None and \
            0 <= idx < len(classes) else str(idx)

    lines = [] if gt is None else [f'GT: {name_of(gt)}']
    for combo, (label, score) in preds.items():
        mark = '' if gt is None or int(label) == int(gt) else ' (wrong)'
        lines.append(f'{combo}: {name_of(label)} {score:.2f}{mark}')
    width = max(tiles[0].shape[1], 2 * min_size)
    body = np.full((max(t.shape[0] for t in tiles) // 2, width, 3), 255,
                   np.uint8)
    text = titled(body, lines or ['no prediction'])
    return hstack(tiles + [text])
