"""Teacher-student wrapper for classification (mmpretrain registry).

Shorthand: B batch, C channels, K classes, H x W input size.
"""
from mmpretrain.registry import MODELS

from .base_distiller import BaseDistiller


@MODELS.register_module()
class ClsDistiller(BaseDistiller):
    """A classification student distilled from a frozen teacher.

    See :class:`BaseDistiller` for the arguments and the training step.
    Testing and every-combination evaluation use the student.

    Example:
        >>> import tempfile, torch
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmpretrain')
        >>> from mmpretrain.registry import MODELS
        >>> net = dict(
        ...     type='MultiModalImageClassifier',
        ...     data_preprocessor=dict(type='MultiModalClsDataPreProcessor',
        ...                            modalities=dict(rgb=3, depth=1)),
        ...     backbone=dict(type='MultiBranchResNet', depth=18,
        ...                   base_channels=8),
        ...     neck=dict(type='GlobalAveragePooling'),
        ...     head=dict(type='LinearClsHead', num_classes=5,
        ...               in_channels=64))
        >>> ckpt = tempfile.mktemp(suffix='.pth')
        >>> torch.save({'state_dict': MODELS.build(net).state_dict()}, ckpt)
        >>> model = ClsDistiller(
        ...     student=net, teacher=net, teacher_ckpt=ckpt,
        ...     student_recorders=dict(logits='head.fc'),
        ...     teacher_recorders=dict(logits='head.fc'),
        ...     distill_losses=dict(loss_kd=dict(
        ...         type='LogitKLDistillLoss', tau=4.0,
        ...         inputs=dict(logits_s='student.logits',
        ...                     logits_t='teacher.logits'))))
        >>> model.predict_combinations is not None
        True
    """

    registry = MODELS

    def aux_head_loss(self, head, feats, data_samples) -> dict:
        """``head.loss(feats as a tuple, samples)``."""
        feats = feats if isinstance(feats, tuple) else (feats, )
        return head.loss(feats, data_samples)
