"""Ready multi-modal classification sets: synthetic, SUN RGB-D scenes,
CASIA-SURF. Shorthand: K classes, S x S images.
"""
from mmpretrain.registry import DATASETS

from .multimodal_cls import MultiModalClsDataset
from .synthetic import OBJECT_CLASSES, ensure_synthetic

SUNRGBD_SCENE_CLASSES = (
    'bathroom', 'bedroom', 'classroom', 'computer_room', 'conference_room',
    'corridor', 'dining_area', 'dining_room', 'discussion_area',
    'furniture_store', 'home_office', 'kitchen', 'lab', 'lecture_theatre',
    'library', 'living_room', 'office', 'rest_space', 'study_space')
CASIA_SURF_CLASSES = ('spoof', 'live')


@DATASETS.register_module()
class SyntheticRGBDClsDataset(MultiModalClsDataset):
    """One synthetic object per image; K = 8 classes.

    The geometry classes (``sphere, disc, cone, bowl``) share colours and
    differ only in depth; the appearance classes (``red_box, blue_box,
    striped_box, checker_box``) share geometry and differ only in colour or
    texture (see :mod:`mm_incomplete.datasets.synthetic.render`), so each of
    RGB-only and depth-only is near chance on half of the classes.

    Generated on first use into ``data_root`` (all splits, deterministic from
    ``seed``, safe under concurrent processes); annotation files
    ``{train,val,test}.txt`` as in :class:`MultiModalClsDataset`.

    Args:
        modalities (dict | str): layout, default ``dict(rgb=3, depth=1)``.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        seed, size, num_train, num_val, num_test (int): generation settings.
        **kwargs: see :class:`MultiModalClsDataset`.

    Example:
        >>> import tempfile, os.path as osp
        >>> root = osp.join(tempfile.mkdtemp(), 'cls')
        >>> ds = SyntheticRGBDClsDataset(data_root=root, split='test',
        ...                              num_train=1, num_val=1, num_test=4)
        >>> len(ds), len(ds.CLASSES)
        (4, 8)
    """

    METAINFO = dict(classes=OBJECT_CLASSES)

    def __init__(self,
                 modalities=dict(rgb=3, depth=1),
                 split: str = 'train',
                 data_root: str = 'data/synthetic_rgbd_cls',
                 seed: int = 0,
                 size: int = 64,
                 num_train: int = 800,
                 num_val: int = 200,
                 num_test: int = 200,
                 **kwargs):
        if split not in ('train', 'val', 'test'):
            raise ValueError(f'`split` must be train, val or test, got '
                             f'{split!r}')
        self.generation_params = dict(
            seed=int(seed), size=int(size), num_train=int(num_train),
            num_val=int(num_val), num_test=int(num_test))
        ensure_synthetic(data_root, 'cls', self.generation_params,
                         progress=True)
        kwargs.setdefault('ann_file', f'{split}.txt')
        super().__init__(modalities=modalities, data_root=data_root, **kwargs)


@DATASETS.register_module()
class SUNRGBDSceneDataset(MultiModalClsDataset):
    """SUN RGB-D scene classification, the 19 scenes with >= 80 images.

    Annotation files (e.g. ``data/sunrgbd/scene_{train,test}.txt``) list
    ``rgb/<split>/<name>.jpg depth/<split>/<name>.png <class id>`` in the
    segmentation layout of :class:`SUNRGBDDataset` (depth uint16 mm).

    Example:
        >>> len(SUNRGBDSceneDataset.METAINFO['classes'])
        19
    """

    METAINFO = dict(classes=SUNRGBD_SCENE_CLASSES)


@DATASETS.register_module()
class CASIASURFDataset(MultiModalClsDataset):
    """CASIA-SURF face anti-spoofing: rgb, depth and ir, live vs spoof.

    Uses the official list files as annotation files: each line is
    ``<color path> <depth path> <ir path> <label>`` relative to ``data_root``
    with label 1 = live (real) and 0 = spoof, so ``ann_modalities`` defaults
    to ``('rgb', 'depth', 'ir')``. Depth and IR are 8-bit images: declare
    depth of the ``other`` kind (the default layout
    ``'rgb:3,depth:1:other,ir:1:other'``) and load both with
    ``to_gray=('depth', 'ir')``.

    Example:
        >>> CASIASURFDataset.METAINFO['classes']
        ('spoof', 'live')
    """

    METAINFO = dict(classes=CASIA_SURF_CLASSES)

    def __init__(self, modalities='rgb:3,depth:1:other,ir:1:other',
                 **kwargs):
        kwargs.setdefault('ann_modalities', ('rgb', 'depth', 'ir'))
        super().__init__(modalities=modalities, **kwargs)
