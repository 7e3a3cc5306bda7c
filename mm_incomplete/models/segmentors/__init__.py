"""Segmentors that carry the modality mask (mmseg registry)."""
from .multi_modal_encoder_decoder import MultiModalEncoderDecoder

__all__ = ['MultiModalEncoderDecoder']
from .dmrnet_encoder_decoder import DMRNetEncoderDecoder  # noqa: F401,E402
