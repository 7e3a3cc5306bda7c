"""The base class of a method loss: a function of one forward record.

Shorthand: B batch, M modalities.

A method (DMRNet's KL term, a hard-combination regularizer, a loss on
per-modality features, ...) is a :class:`BaseMethodLoss` in the task model's
``method_losses=[...]``. It receives the :class:`ForwardRecord` of the
training step and returns a loss dict; keys that contain ``loss`` are added
to the total by mmengine, the others are only logged.

State protocol: whatever a method learns or mines during training lives in
buffers of its module (``register_buffer``, persistent), so it is in every
checkpoint, comes back on resume and ``load_from`` and is there at
evaluation; a hook that decides *when* something changes keeps no state of
its own (or saves it with ``before_save_checkpoint`` /
``after_load_checkpoint``).
"""
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .record import ForwardRecord


@MODELS.register_module()
class BaseMethodLoss(BaseModule):
    """A loss computed from the forward record of a task model.

    Subclasses implement :meth:`forward`. Registered in mmengine's root
    ``MODELS`` (subclasses should be too), so the mmseg and the mmpretrain
    scope both build them.

    Args:
        loss_weight (float): factor of the method's losses (subclasses
            apply it; :meth:`scaled` multiplies weight and scale in).
        init_cfg (dict, optional): mmengine initialisation config.

    Attributes:
        loss_scale (float): a warm-up factor in [0, 1] on top of
            ``loss_weight`` (1 by default), set by
            :class:`LossScaleWarmupHook` (``modules=['method_losses']``).
            At 0 a subclass may skip its work and return zeros.

    Example:
        >>> import torch
        >>> from mm_incomplete.modality import ModalityLayout
        >>> class FeatureNormLoss(BaseMethodLoss):
        ...     def forward(self, record):
        ...         f = record.get('neck_feats')[-1]
        ...         return dict(loss_norm=self.scaled(f.pow(2).mean()))
        >>> rec = ForwardRecord(
        ...     task='cls', layout=ModalityLayout('rgb:3'),
        ...     mask=torch.ones(2, 1, dtype=torch.bool),
        ...     host_mask=torch.ones(2, 1, dtype=torch.bool),
        ...     inputs=torch.zeros(2, 3, 4, 4),
        ...     neck_feats=[torch.full((2, 5), 2.0)])
        >>> FeatureNormLoss(loss_weight=0.5)(rec)
        {'loss_norm': tensor(2.)}
    """

    def __init__(self, loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.loss_weight = float(loss_weight)
        self.loss_scale = 1.0

    def scaled(self, value: torch.Tensor) -> torch.Tensor:
        """``value * loss_weight * loss_scale``."""
        return value * (self.loss_weight * self.loss_scale)

    def forward(self, record: ForwardRecord) -> Dict[str, torch.Tensor]:
        """Losses (keys containing ``loss``) and logged values of a step."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement forward(record)')
