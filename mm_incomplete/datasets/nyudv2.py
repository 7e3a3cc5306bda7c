"""NYU Depth v2 semantic segmentation (40 or 13 classes), RGB-D / HHA.

Shorthand: H x W = 480 x 640, K classes.
"""
from mmseg.registry import DATASETS

from .multimodal_seg import MultiModalSegDataset
from .palette import bit_palette

NYU40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refrigerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')
NYU13_CLASSES = ('bed', 'books', 'ceiling', 'chair', 'floor', 'furniture',
                 'objects', 'picture', 'sofa', 'table', 'tv', 'wall',
                 'window')
# NYU-40 id (index, 0 = unlabeled) -> NYU-13 id (Couprie et al. / Eigen).
NYU40_TO_13 = (0, 12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7,
               7, 5, 7, 3, 2, 6, 11, 7, 7, 7, 7, 7, 7, 6, 7, 7, 7, 7, 7, 7, 6,
               7)


@DATASETS.register_module()
class NYUDv2Dataset(MultiModalSegDataset):
    """NYU Depth v2 labelled set: 795 train / 654 test frames.

    On-disk layout (written by ``tools/dataset_converters/nyudv2.py``)::

        data/nyudv2/
          rgb/{train,test}/000001.png       uint8 RGB, 480 x 640
          depth/{train,test}/000001.png     uint16 millimetres, 0 = hole
          hha/{train,test}/000001.png       uint8 HHA (optional)
          label40/{train,test}/000001.png   uint8, 0 = unlabeled, 1..40
          label13/{train,test}/000001.png   uint8, 0 = unlabeled, 1..13

    Names are the 1-based index in the official labelled ``.mat`` file.
    Label 0 ("unlabeled") is ignored: ``reduce_zero_label=True`` maps it to
    255 and shifts ids 1..K to 0..K-1, so class ``i`` of ``classes`` is file
    id ``i + 1``.

    Args:
        num_classes (int): 40 (Gupta et al. mapping) or 13.
        modalities (dict | str): layout, e.g. ``dict(rgb=3, depth=1)``.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: see :class:`MultiModalSegDataset`.

    Example:
        >>> len(NYUDv2Dataset.classes_for(13))
        13
    """

    METAINFO = dict(classes=NYU40_CLASSES, palette=bit_palette(40))

    def __init__(self,
                 modalities=dict(rgb=3, depth=1),
                 num_classes: int = 40,
                 split: str = 'train',
                 reduce_zero_label: bool = True,
                 **kwargs):
        if num_classes not in (40, 13):
            raise ValueError(f'`num_classes` must be 40 or 13 for NYUDv2, '
                             f'got {num_classes!r}')
        metainfo = dict(
            classes=self.classes_for(num_classes),
            palette=bit_palette(num_classes))
        metainfo.update(kwargs.pop('metainfo', None) or {})
        kwargs.setdefault('label_dir', f'label{num_classes}')
        self.num_classes = num_classes
        super().__init__(
            modalities=modalities,
            split=split,
            reduce_zero_label=reduce_zero_label,
            metainfo=metainfo,
            **kwargs)

    @staticmethod
    def classes_for(num_classes: int):
        """Class names of the 40- or 13-class label set."""
        return NYU40_CLASSES if num_classes == 40 else NYU13_CLASSES

    def get_label_map(self, new_classes=None):
        """Map file ids to a class subset (``metainfo=dict(classes=...)``).

        Like mmseg's, but against the 40- *or* 13-class list chosen by
        ``num_classes`` (mmseg compares with the class-level ``METAINFO``).
        """
        base = list(self.classes_for(self.num_classes))
        if new_classes is None or list(new_classes) == base:
            return None
        unknown = [c for c in new_classes if c not in base]
        if unknown:
            raise ValueError(f'metainfo classes {unknown} are not NYUDv2 '
                             f'{self.num_classes}-class names')
        return {
            i: (new_classes.index(c) if c in new_classes else 255)
            for i, c in enumerate(base)
        }
