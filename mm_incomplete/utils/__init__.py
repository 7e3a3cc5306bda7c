from .checkpoint import (CHECKPOINT_SAFE_GLOBALS, install_checkpoint_loader,
                         load_local_checkpoint)
from .config import CONFIG_ROOT, config_path

install_checkpoint_loader()

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'install_checkpoint_loader',
    'load_local_checkpoint', 'CONFIG_ROOT', 'config_path'
]
