"""Reading one modality file into an H x W x C_m array, with clear errors.

Shorthand: H x W spatial size, C_m channels of one modality.

Kept free of any registry so that dataset classes, converters and transforms
share the same decoding rules.
"""
import io
import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmengine import fileio


def read_bytes(path: str, what: str,
               backend_args: Optional[dict] = None) -> bytes:
    """Bytes of ``path``; a missing file raises naming ``what`` and the path."""
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file not found: {path}') from None


def decode(data: bytes, path: str, what: str) -> np.ndarray:
    """Decode image bytes (or ``.npy``) unchanged: (H, W) or (H, W, C).

    Colour images come back in **RGB** channel order (OpenCV decodes BGR).
    """
    if path.endswith('.npy'):
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as err:
            raise ValueError(f'{what} file {path} is not a valid .npy '
                             f'array: {err}') from None
    else:
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ValueError(f'{what} file {path} could not be decoded as an '
                             'image')
        if arr.ndim == 3 and arr.shape[2] == 3:
            arr = arr[..., ::-1]
        elif arr.ndim == 3 and arr.shape[2] == 4:
            arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    if arr.ndim not in (2, 3):
        raise ValueError(f'{what} file {path} holds an array of shape '
                         f'{arr.shape}; expected (H, W) or (H, W, C)')
    return np.ascontiguousarray(arr)


def read_image(path: str, what: str,
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read and decode ``path`` unchanged (see :func:`decode`)."""
    return decode(read_bytes(path, what, backend_args), path, what)


def channels_of(arr: np.ndarray) -> int:
    return 1 if arr.ndim == 2 else arr.shape[2]


def describe(arr: np.ndarray) -> str:
    return f'{arr.dtype} with {channels_of(arr)} channel(s)'


def file_stem(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]
