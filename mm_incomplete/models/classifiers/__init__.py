"""Classifiers that carry the modality mask (mmpretrain registry)."""
from .multi_modal_image_classifier import MultiModalImageClassifier

__all__ = ['MultiModalImageClassifier']
from .dmrnet_image_classifier import DMRNetImageClassifier  # noqa: F401,E402
