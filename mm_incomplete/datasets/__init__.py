"""Multi-modal datasets (segmentation in mmseg's registry, classification in
mmpretrain's), their transforms and the synthetic RGB-D sets."""
from .cls_datasets import (CASIA_SURF_CLASSES, SUNRGBD_SCENE_CLASSES,
                           CASIASURFDataset, SUNRGBDSceneDataset,
                           SyntheticRGBDClsDataset)
from .multimodal_cls import MultiModalClsDataset
from .multimodal_seg import MultiModalSegDataset
from .nyudv2 import NYU13_CLASSES, NYU40_CLASSES, NYU40_TO_13, NYUDv2Dataset
from .sunrgbd import SUNRGBD37_CLASSES, SUNRGBDDataset
from .synthetic_seg import SyntheticRGBDSegDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'MultiModalSegDataset', 'NYUDv2Dataset', 'SUNRGBDDataset',
    'SyntheticRGBDSegDataset', 'MultiModalClsDataset',
    'SyntheticRGBDClsDataset', 'SUNRGBDSceneDataset', 'CASIASURFDataset',
    'SUNRGBD_SCENE_CLASSES', 'CASIA_SURF_CLASSES', 'NYU40_CLASSES', 'NYU13_CLASSES',
    'NYU40_TO_13', 'SUNRGBD37_CLASSES'
]
