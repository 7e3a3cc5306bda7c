from .hooks import *  # noqa: F401,F403
from .runner import MultiModalRunner, keep_layout_order  # noqa: F401
