"""mm_incomplete: incomplete multimodal learning for OpenMMLab.

``import mm_incomplete`` registers every module: segmentation modules in
mmseg's registries, classification modules in mmpretrain's, task-agnostic ones
(losses, hooks, loops, sampling policies, fusion blocks) in mmengine's root
registries, which both scopes see. Configs keep the host ``default_scope`` and
bring the plugin in with ``custom_imports=dict(imports=['mm_incomplete'])``.
"""
from .version import __version__
from .utils import config_path  # noqa: F401
from . import modality  # noqa: F401,E402
from . import datasets, engine, evaluation, models  # noqa: F401,E402
from . import visualization  # noqa: F401,E402
from . import apis  # noqa: F401,E402

from .apis import MultiModalInferencer  # noqa: E402

__all__ = ['__version__', 'config_path', 'MultiModalInferencer']
