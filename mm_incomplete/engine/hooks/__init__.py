from .combination_mining_hook import CombinationMiningHook  # noqa: F401
from .loss_scale_warmup_hook import LossScaleWarmupHook  # noqa: F401
from .weak_combination_mining_hook import WeakCombinationMiningHook  # noqa: F401,E501
