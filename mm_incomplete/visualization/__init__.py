"""Panels of every modality and every combination's prediction."""
from .hook import CombinationVisualizationHook, add_show_dir_hook
from .panels import (cls_panel, colorize_labels, colorize_scalar,
                     default_palette, seg_panel)

__all__ = [
    'CombinationVisualizationHook', 'add_show_dir_hook', 'cls_panel',
    'colorize_labels', 'colorize_scalar', 'default_palette', 'seg_panel'
]
