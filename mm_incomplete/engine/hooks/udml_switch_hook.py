"""UDML's two switches: clean-then-noisy training data and the dynamic
fusion weights.

Shorthand: M modalities.

The release trains on clean data first and injects noise from epoch 50 of
100; its fusion weights are 1 until epoch 60. This hook sets both from the
runner's progress before every training iteration (or epoch):

- ``noise_begin``: ``MultiModalNoiseInjection.enabled`` of the training
  pipeline (levels are 1 and nothing is corrupted before it);
- ``weights_begin``: ``UDMLBackbone.set_weights_active`` (w = 1 before it).

With ``by_epoch=False`` the noise switch for iteration i is set after
iteration i - 1 (mmengine's loop loads a batch before ``before_train_iter``)
and before training (a resumed run's first batch).

Both are functions of the progress only (no state of the hook), so a
resumed run sets them exactly as an uninterrupted one would; the backbone's
flag is also a buffer of the checkpoint.

Dataloader workers hold copies of the pipeline, but the transform's
``enabled`` flag is in shared memory: they see the switch after the batches
they had already prefetched (``num_workers x prefetch_factor``; none
without workers, as in the CPU configs).
"""
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mm_incomplete.datasets.transforms.noise import MultiModalNoiseInjection
from mm_incomplete.models.backbones.udml_backbone import UDMLBackbone


def _noise_transforms(dataset) -> List[MultiModalNoiseInjection]:
    """Every MultiModalNoiseInjection of a (possibly wrapped) dataset."""
    found, todo = [], [dataset]
    while todo:
        ds = todo.pop()
        pipeline = getattr(ds, 'pipeline', None)
        for t in getattr(pipeline, 'transforms', []) or []:
            if isinstance(t, MultiModalNoiseInjection):
                found.append(t)
        if hasattr(ds, 'dataset'):
            todo.append(ds.dataset)
        todo.extend(getattr(ds, 'datasets', []) or [])
    return found


def _udml_backbones(model) -> List[UDMLBackbone]:
    model = getattr(model, 'module', model)
    return [m for m in model.modules() if isinstance(m, UDMLBackbone)]


@HOOKS.register_module()
class UDMLSwitchHook(Hook):
    """Switch noise injection and UDML's fusion weights on at set points.

    Args:
        noise_begin (int, optional): iteration (epoch with ``by_epoch``),
            0-based, from which training data is noisy; None: leave the
            transforms as configured.
        weights_begin (int, optional): from which the fusion weights are
            dynamic; None: leave the backbone as it is.
        by_epoch (bool): count epochs. Defaults to False.

    Example:
        >>> custom_hooks = [dict(type='UDMLSwitchHook', noise_begin=50,
        ...                      weights_begin=60, by_epoch=True)]
    """

    priority = 'NORMAL'

    def __init__(self, noise_begin: Optional[int] = None,
                 weights_begin: Optional[int] = None,
                 by_epoch: bool = False):
        for name, v in (('noise_begin', noise_begin),
                        ('weights_begin', weights_begin)):
            if v is not None and v < 0:
                raise ValueError(f'UDMLSwitchHook.{name} must be >= 0, got '
                                 f'{v}')
        self.noise_begin = noise_begin
        self.weights_begin = weights_begin
        self.by_epoch = by_epoch

    def before_train(self, runner) -> None:
        if self.weights_begin is not None and \
                not _udml_backbones(runner.model):
            raise ValueError('UDMLSwitchHook.weights_begin is set but the '
                             'model has no UDMLBackbone')
        if self.noise_begin is None:
            return
        loader = runner.train_dataloader
        if not _noise_transforms(loader.dataset):
            raise ValueError('UDMLSwitchHook.noise_begin is set but the '
                             'training pipeline has no '
                             'MultiModalNoiseInjection')
        loop = getattr(runner, 'train_loop', None)
        if self.by_epoch and type(loop).__name__ == 'IterBasedTrainLoop':
            raise ValueError(
                'UDMLSwitchHook: by_epoch=True under IterBasedTrainLoop '
                'would switch only once, before training; count '
                'iterations (by_epoch=False)')
        self.apply(runner, runner.epoch if self.by_epoch else runner.iter)

    def apply(self, runner, progress: int) -> None:
        """Set both switches for ``progress`` (iteration or epoch)."""
        if self.noise_begin is not None:
            on = progress >= self.noise_begin
            for t in _noise_transforms(runner.train_dataloader.dataset):
                t.enabled = on
        if self.weights_begin is not None:
            on = progress >= self.weights_begin
            for bb in _udml_backbones(runner.model):
                bb.set_weights_active(on)

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self.apply(runner, runner.epoch)

    # Iterations: mmengine's loop loads iteration i's batch *before*
    # ``before_train_iter(i)``, so the noise switch for iteration i is set
    # after iteration i - 1 (and, for the first one, before training,
    # which also covers a resumed run); the weights act in the step itself.
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch:
            self.apply(runner, runner.iter + 1)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if not self.by_epoch and self.weights_begin is not None:
            on = runner.iter >= self.weights_begin
            for bb in _udml_backbones(runner.model):
                bb.set_weights_active(on)
