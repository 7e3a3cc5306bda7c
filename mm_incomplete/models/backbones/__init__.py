"""Multi-modal backbones: (inputs (B, C, H, W), mask (B, M)) -> features."""
from .branch_rows import BranchRows, plan_branch_rows
from .early_fusion_resnet import EarlyFusionResNet
from .mask_utils import (check_modality_mask, host_modality_mask,
                         scatter_rows)
from .multi_branch_backbone import MultiBranchBackbone
from .multi_branch_resnet import MultiBranchResNet

__all__ = [
    'BranchRows', 'EarlyFusionResNet', 'MultiBranchBackbone',
    'MultiBranchResNet', 'check_modality_mask', 'host_modality_mask',
    'plan_branch_rows', 'scatter_rows'
]
