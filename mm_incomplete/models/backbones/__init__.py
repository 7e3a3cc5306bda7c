"""Multi-modal backbones: (inputs (B, C, H, W), mask (B, M)) -> features."""
from .early_fusion_resnet import EarlyFusionResNet
from .mask_utils import (check_modality_mask, host_modality_mask,
                         scatter_rows)
from .multi_branch_resnet import MultiBranchResNet

__all__ = [
    'EarlyFusionResNet', 'MultiBranchResNet', 'check_modality_mask',
    'host_modality_mask', 'scatter_rows'
]
