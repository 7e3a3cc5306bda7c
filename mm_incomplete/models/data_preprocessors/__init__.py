"""Data preprocessors: per-modality normalisation and the modality mask."""
from .modality_processing import ModalityProcessingMixin
from .multi_modal_cls_data_preprocessor import MultiModalClsDataPreProcessor
from .multi_modal_seg_data_preprocessor import MultiModalSegDataPreProcessor

__all__ = [
    'ModalityProcessingMixin', 'MultiModalClsDataPreProcessor',
    'MultiModalSegDataPreProcessor'
]
