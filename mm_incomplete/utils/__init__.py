from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, describe_state_mismatch,
                         install_checkpoint_loader, load_local_checkpoint,
                         weights_only_loader)
from .config import CONFIG_ROOT, config_path, freeze_modality_order

install_checkpoint_loader()

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'install_checkpoint_loader',
    'load_local_checkpoint', 'describe_state_mismatch',
    'weights_only_loader', 'CONFIG_ROOT', 'config_path',
    'freeze_modality_order'
]
