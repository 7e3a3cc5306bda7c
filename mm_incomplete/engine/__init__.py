from .hooks import *  # noqa: F401,F403
from .runner import MultiModalRunner, keep_layout_order  # noqa: F401
from .trainable_params_constructor import \
    TrainableParamsOptimWrapperConstructor  # noqa: F401
