"""What the multi-modal segmentor and classifier share.

Shorthand: B batch, M modalities.
"""
import torch

from mm_incomplete.modality import ModalityLayout, stack_modality_masks


class MultiModalModelMixin:
    """Layout checks and the batch mask for a model with a modal backbone.

    The host class (mmseg ``EncoderDecoder``, mmpretrain ``ImageClassifier``)
    builds ``backbone`` and ``data_preprocessor``; call
    :meth:`check_modality_layouts` after its ``__init__``.
    """

    def check_modality_layouts(self) -> None:
        """The backbone has a layout, and the preprocessor's agrees."""
        if not isinstance(getattr(self.backbone, 'layout', None),
                          ModalityLayout):
            raise TypeError(
                f'{type(self).__name__} needs a multi-modal backbone with a '
                f'`layout` (e.g. MultiBranchResNet); got '
                f'{type(self.backbone).__name__}')
        pre_layout = getattr(self.data_preprocessor, 'layout', None)
        if pre_layout is not None and pre_layout != self.layout:
            raise ValueError(
                f'data_preprocessor.modalities {pre_layout!r} differ from '
                f'backbone.modalities {self.layout!r}')

    @property
    def layout(self) -> ModalityLayout:
        """The modality layout of the backbone."""
        return self.backbone.layout

    def _mask_of(self, inputs: torch.Tensor, data_samples) -> torch.Tensor:
        """(B, M) bool mask of the batch from its data samples."""
        return stack_modality_masks(data_samples, inputs.shape[0],
                                    len(self.layout), inputs.device)
