from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .checkpoint_guard_hook import CheckpointGuardHook  # noqa: F401
from .combination_mining_hook import CombinationMiningHook  # noqa: F401
from .generator_state_hook import GeneratorStateHook  # noqa: F401
from .loss_scale_warmup_hook import LossScaleWarmupHook  # noqa: F401
from .non_finite_loss_hook import NonFiniteLossHook  # noqa: F401
from .weak_combination_mining_hook import WeakCombinationMiningHook  # noqa: F401,E501
from .duc_split_hook import DUCSplitHook  # noqa: F401
