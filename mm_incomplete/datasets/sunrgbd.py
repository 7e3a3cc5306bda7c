"""SUN RGB-D semantic segmentation (37 classes), RGB-D / HHA.

Shorthand: K = 37 classes; frames come from four sensors, so H x W varies
(about 530 x 730 for Kinect v2, 427 x 561 for Kinect v1 ...).
"""
from mmseg.registry import DATASETS

from mm_incomplete.modality import ModalityLayout
from .multimodal_seg import MultiModalSegDataset
from .palette import bit_palette

SUNRGBD37_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'fridge', 'tv', 'paper', 'towel', 'shower curtain',
    'box', 'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp',
    'bathtub', 'bag')


@DATASETS.register_module()
class SUNRGBDDataset(MultiModalSegDataset):
    """SUN RGB-D 37-class release: 5285 train / 5050 test frames.

    On-disk layout (written by ``tools/dataset_converters/sunrgbd.py``)::

        data/sunrgbd/
          rgb/{train,test}/000001.jpg       uint8 RGB (sizes vary)
          depth/{train,test}/000001.png     uint16 millimetres, 0 = hole
          hha/{train,test}/000001.png       uint8 HHA (optional)
          label37/{train,test}/000001.png   uint8, 0 = unlabeled, 1..37

    Label 0 ("unlabeled") is ignored (``reduce_zero_label=True``: 0 -> 255,
    1..37 -> 0..36).

    Args:
        modalities (dict | str): layout, e.g. ``dict(rgb=3, depth=1)``.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: see :class:`MultiModalSegDataset`.

    Example:
        >>> len(SUNRGBDDataset.METAINFO['classes'])
        37
    """

    METAINFO = dict(classes=SUNRGBD37_CLASSES, palette=bit_palette(37))

    def __init__(self,
                 modalities=dict(rgb=3, depth=1),
                 split: str = 'train',
                 reduce_zero_label: bool = True,
                 **kwargs):
        kwargs.setdefault('label_dir', 'label37')
        if 'suffixes' not in kwargs:
            names = ModalityLayout(modalities).names
            kwargs['suffixes'] = dict(rgb='.jpg') if 'rgb' in names else {}
        super().__init__(
            modalities=modalities,
            split=split,
            reduce_zero_label=reduce_zero_label,
            **kwargs)
