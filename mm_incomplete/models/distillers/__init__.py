from .base_distiller import BaseDistiller, DistillLosses
from .cls_distiller import ClsDistiller
from .feature_recorder import FeatureRecorder
from .seg_distiller import SegDistiller
from .teacher import freeze_teacher, load_teacher_checkpoint
from .teacher_view_preprocessor import TeacherViewPreprocessor

__all__ = [
    'BaseDistiller', 'DistillLosses', 'ClsDistiller', 'FeatureRecorder',
    'SegDistiller', 'TeacherViewPreprocessor', 'freeze_teacher',
    'load_teacher_checkpoint'
]
