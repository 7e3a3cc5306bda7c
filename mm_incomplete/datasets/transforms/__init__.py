"""Loading, geometric, photometric and packing transforms for stacked
multi-modal inputs (H x W x C, modalities in layout order)."""
from .formatting import PackMultiModalClsInputs, PackMultiModalSegInputs
from .geometric import (MultiModalPad, MultiModalRandomCrop,
                        MultiModalRandomFlip, MultiModalRandomResize,
                        MultiModalRandomRotate, MultiModalResize)
from .loading import LoadMultiModalImages
from .photometric import RGBPhotoMetricDistortion, RGBRandomHSV
from .seg_loading import LoadMultiModalAnnotations

__all__ = [
    'LoadMultiModalImages', 'LoadMultiModalAnnotations', 'MultiModalResize',
    'MultiModalRandomResize', 'MultiModalRandomCrop', 'MultiModalRandomFlip',
    'MultiModalRandomRotate', 'MultiModalPad', 'RGBPhotoMetricDistortion',
    'RGBRandomHSV',
    'PackMultiModalSegInputs', 'PackMultiModalClsInputs'
]
