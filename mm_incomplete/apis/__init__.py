"""High-level entry points: predict samples with missing modalities."""
from .inferencer import MultiModalInferencer

__all__ = ['MultiModalInferencer']
