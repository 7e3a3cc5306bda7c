"""Classifiers that carry the modality mask (mmpretrain registry)."""
from .multi_modal_image_classifier import MultiModalImageClassifier
from .dmrnet_image_classifier import DMRNetImageClassifier

__all__ = ['MultiModalImageClassifier', 'DMRNetImageClassifier']
