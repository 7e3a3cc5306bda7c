"""The modality layout a loaded sample carries: names, channels and kinds.

Shorthand: M modalities, C stacked channels, H x W spatial size.

:class:`LoadMultiModalImages` writes ``results['modalities']``,
``results['modality_channels']`` and ``results['modality_kinds']`` next to
the stacked (H, W, C) ``img``; every later transform reads them here, so that
interpolation and photometric rules follow each modality's kind (colour,
depth, other) and not its name.
"""
import numpy as np

from mm_incomplete.modality import ModalityLayout


def sample_layout(results: dict, what: str) -> ModalityLayout:
    """The layout of a loaded sample, checked against ``results['img']``.

    Kinds come from ``results['modality_kinds']``; a sample without them
    (built by hand) gets the kinds of the well-known names, and an unknown
    name raises, naming ``what`` (the transform).

    Args:
        results (dict): the sample.
        what (str): the transform asking, named in error messages.

    Example:
        >>> r = dict(img=np.zeros((2, 2, 4), np.float32),
        ...          modalities=('rgb', 'ir'), modality_channels=(3, 1))
        >>> sample_layout(r, 'MultiModalResize').kinds
        ('colour', 'other')
    """
    if 'modalities' not in results or 'modality_channels' not in results:
        raise KeyError(f'{what}: the sample has no `modalities`/'
                       '`modality_channels`; load it with '
                       'LoadMultiModalImages first')
    names, chans = results['modalities'], results['modality_channels']
    kinds = results.get('modality_kinds') or [None] * len(names)
    if not len(names) == len(chans) == len(kinds):
        raise ValueError(f'{what}: the sample has modalities {list(names)}, '
                         f'modality_channels {list(chans)} and '
                         f'modality_kinds {list(kinds)} of different lengths')
    layout = ModalityLayout(
        [(n, int(c), k) for n, c, k in zip(names, chans, kinds)],
        f'{what}: the sample\'s modalities')
    img = results.get('img')
    if isinstance(img, np.ndarray) and \
            (img.ndim == 2 and layout.total_channels != 1
             or img.ndim == 3 and img.shape[2] != layout.total_channels):
        have = 1 if img.ndim == 2 else img.shape[2]
        raise ValueError(f'{what}: `img` has {have} channels but the '
                         f'modalities {list(names)} have '
                         f'{layout.total_channels}')
    return layout
