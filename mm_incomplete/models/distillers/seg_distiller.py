"""Teacher-student wrapper for segmentation (mmseg registry).

Shorthand: B batch, C channels, K classes, H x W input size.
"""
from mmseg.registry import MODELS

from .base_distiller import BaseDistiller


@MODELS.register_module()
class SegDistiller(BaseDistiller):
    """A segmentation student distilled from a frozen segmentation teacher.

    See :class:`BaseDistiller` for the arguments and the training step.
    Testing, every-combination evaluation and TTA use the student.

    Example:
        >>> import tempfile, torch
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmseg')
        >>> from mmseg.registry import MODELS
        >>> net = dict(
        ...     type='MultiModalEncoderDecoder',
        ...     data_preprocessor=dict(type='MultiModalSegDataPreProcessor',
        ...                            modalities=dict(rgb=3, depth=1)),
        ...     backbone=dict(type='MultiBranchResNet', depth=18,
        ...                   base_channels=8),
        ...     decode_head=dict(type='FCNHead', in_channels=64, in_index=3,
        ...                      channels=16, num_classes=5))
        >>> ckpt = tempfile.mktemp(suffix='.pth')
        >>> torch.save({'state_dict': MODELS.build(net).state_dict()}, ckpt)
        >>> model = SegDistiller(
        ...     student=net, teacher=net, teacher_ckpt=ckpt,
        ...     student_recorders=dict(c5=dict(path='backbone', index=3),
        ...                            logits='decode_head.conv_seg'),
        ...     teacher_recorders=dict(c5=dict(path='backbone', index=3),
        ...                            logits='decode_head.conv_seg'),
        ...     distill_losses=dict(loss_kd=dict(
        ...         type='LogitKLDistillLoss', tau=2.0,
        ...         inputs=dict(logits_s='student.logits',
        ...                     logits_t='teacher.logits'))))
        >>> any(n.startswith('teacher') for n in model.state_dict())
        False
    """

    registry = MODELS

    def aux_head_loss(self, head, feats, data_samples) -> dict:
        """``head.loss(multi-level feats, samples, student train_cfg)``."""
        feats = list(feats) if isinstance(feats, tuple) else [feats]
        return head.loss(feats, data_samples,
                         getattr(self.student, 'train_cfg', None))
