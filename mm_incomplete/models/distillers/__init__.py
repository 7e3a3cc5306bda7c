from .base_distiller import BaseDistiller, DistillLosses
from .cls_distiller import ClsDistiller
from .feature_recorder import FeatureRecorder
from .seg_distiller import SegDistiller
from .teacher import freeze_teacher, load_teacher_checkpoint

__all__ = [
    'BaseDistiller', 'DistillLosses', 'ClsDistiller', 'FeatureRecorder',
    'SegDistiller', 'freeze_teacher', 'load_teacher_checkpoint'
]
