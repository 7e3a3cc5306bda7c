"""The synthetic RGB-D segmentation set, generated on first use.

Shorthand: S x S images (64 x 64 by default), K = 9 classes.
"""
from mmseg.registry import DATASETS

from .multimodal_seg import MultiModalSegDataset
from .palette import bit_palette
from .synthetic import OBJECT_CLASSES, ensure_synthetic

SYNTHETIC_SEG_CLASSES = ('floor', ) + OBJECT_CLASSES


@DATASETS.register_module()
class SyntheticRGBDSegDataset(MultiModalSegDataset):
    """Synthetic scenes where RGB and depth are each needed for some classes.

    Classes: ``floor`` (0), the geometry classes ``sphere, disc, cone, bowl``
    (same colours, told apart only by their depth profile) and the
    appearance classes ``red_box, blue_box, striped_box, checker_box`` (same
    box geometry, told apart only by colour/texture); see
    :mod:`mm_incomplete.datasets.synthetic.render`. RGB-only and depth-only
    models therefore each lose half of the object classes.

    If ``data_root`` holds no set yet, the whole set (all splits) is
    generated there first, deterministically from ``seed`` (a few seconds);
    concurrent processes are safe (atomic rename). On-disk layout as in
    :class:`MultiModalSegDataset` with ``label/`` holding ids 0..8 (no
    ignored label, ``reduce_zero_label=False``).

    Args:
        modalities (dict | str): layout, default ``dict(rgb=3, depth=1)``.
        split (str): ``'train'``, ``'val'`` (held-out, e.g. for mining weak
            combinations) or ``'test'``.
        seed (int): generator seed.
        size (int): image side S.
        num_train, num_val, num_test (int): samples per split.
        min_objects, max_objects (int): objects per scene.
        **kwargs: see :class:`MultiModalSegDataset`.

    Example:
        >>> import tempfile, os.path as osp
        >>> root = osp.join(tempfile.mkdtemp(), 'seg')
        >>> ds = SyntheticRGBDSegDataset(data_root=root, split='val',
        ...                              num_train=2, num_val=3, num_test=1)
        >>> len(ds), ds.metainfo['classes'][1]
        (3, 'sphere')
    """

    METAINFO = dict(
        classes=SYNTHETIC_SEG_CLASSES,
        palette=bit_palette(len(SYNTHETIC_SEG_CLASSES)))

    def __init__(self,
                 modalities=dict(rgb=3, depth=1),
                 split: str = 'train',
                 data_root: str = 'data/synthetic_rgbd_seg',
                 seed: int = 0,
                 size: int = 64,
                 num_train: int = 400,
                 num_val: int = 100,
                 num_test: int = 100,
                 min_objects: int = 2,
                 max_objects: int = 5,
                 **kwargs):
        if split not in ('train', 'val', 'test'):
            raise ValueError(f'`split` must be train, val or test, got '
                             f'{split!r}')
        if not 1 <= min_objects <= max_objects:
            raise ValueError('`min_objects`/`max_objects` must satisfy '
                             f'1 <= min <= max, got {min_objects}, '
                             f'{max_objects}')
        self.generation_params = dict(
            seed=int(seed), size=int(size), num_train=int(num_train),
            num_val=int(num_val), num_test=int(num_test),
            min_objects=int(min_objects), max_objects=int(max_objects))
        ensure_synthetic(data_root, 'seg', self.generation_params,
                         progress=True)
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(
            modalities=modalities, split=split, data_root=data_root,
            **kwargs)
