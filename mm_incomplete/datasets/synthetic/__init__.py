"""Synthetic RGB-D sets where a missing modality really hurts."""
from .generate import (MARKER, ensure_synthetic, write_cls_set,
                       write_seg_set)
from .render import (APPEARANCE_CLASSES, GEOMETRY_CLASSES, OBJECT_CLASSES,
                     render_scene)

__all__ = [
    'MARKER', 'ensure_synthetic', 'write_cls_set', 'write_seg_set',
    'APPEARANCE_CLASSES', 'GEOMETRY_CLASSES', 'OBJECT_CLASSES', 'render_scene'
]
