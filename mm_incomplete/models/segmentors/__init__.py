"""Segmentors that carry the modality mask (mmseg registry)."""
from .multi_modal_encoder_decoder import MultiModalEncoderDecoder
from .dmrnet_encoder_decoder import DMRNetEncoderDecoder

__all__ = ['MultiModalEncoderDecoder', 'DMRNetEncoderDecoder']
