"""Compute DI-MML's DUC dimension split once, on the training split.

Shorthand: M modalities, D last-stage channels, N samples (pixels).

At the configured point of training (iteration or epoch ``begin``; the
release: epoch 20 of 150) this hook runs the model in eval mode over the
training set once (a plain, finite pass in file order, with every modality
present), collects each modality's last-stage features (pooled per image,
or up to ``max_pixels`` labelled pixels per batch in segmentation) and
their labels, and gives every :class:`DUCLoss` of the model its (M, D)
split (:func:`discriminative_dims` per modality). The split is the loss's
buffer: saved in checkpoints, restored on resume, so a run resumed after
``begin`` does not compute it again. Unlike the release, any batch size
works and nothing depends on the device or a hard-coded feature size.
"""
from typing import List, Optional

import torch
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from torch.utils.data import DataLoader

from mm_incomplete.models.methods.duc_loss import (DUCLoss,
                                                   discriminative_dims)


def _duc_losses(model) -> List[DUCLoss]:
    model = getattr(model, 'module', model)
    return [m for m in model.modules() if isinstance(m, DUCLoss)]


@HOOKS.register_module()
class DUCSplitHook(Hook):
    """Compute the DUC split at ``begin`` (once; kept in the loss's buffers).

    Args:
        begin (int): the iteration (or epoch with ``by_epoch``) before which
            the split is computed, 0-based.
        by_epoch (bool): count epochs. Defaults to False.
        num_classes (int, optional): K; defaults to the dataset's
            ``metainfo['classes']`` length.
        max_batches (int, optional): stop the pass after this many batches
            (None: the whole training set).
        batch_size (int, optional): batch size of the pass; defaults to the
            training loader's.

    Example:
        >>> custom_hooks = [dict(type='DUCSplitHook', begin=200)]
    """

    priority = 'NORMAL'

    def __init__(self, begin: int, by_epoch: bool = False,
                 num_classes: Optional[int] = None,
                 max_batches: Optional[int] = None,
                 batch_size: Optional[int] = None):
        if begin < 0:
            raise ValueError(f'DUCSplitHook.begin must be >= 0, got {begin}')
        self.begin = begin
        self.by_epoch = by_epoch
        self.num_classes = num_classes
        self.max_batches = max_batches
        self.batch_size = batch_size

    def before_train(self, runner) -> None:
        if not _duc_losses(runner.model):
            raise ValueError('DUCSplitHook: the model has no DUCLoss in its '
                             'method_losses')

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch and runner.epoch >= self.begin:
            self._maybe_split(runner)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if not self.by_epoch and runner.iter >= self.begin:
            self._maybe_split(runner)

    def _maybe_split(self, runner) -> None:
        losses = [m for m in _duc_losses(runner.model) if not m.ready]
        if losses:
            self.compute_split(runner, losses)

    @torch.no_grad()
    def compute_split(self, runner, losses: List[DUCLoss]) -> None:
        """One pass over the training set; sets every loss's split."""
        model = getattr(runner.model, 'module', runner.model)
        loader = runner.train_dataloader
        dataset = loader.dataset
        num_classes = self.num_classes or len(dataset.metainfo['classes'])
        plain = DataLoader(dataset,
                           batch_size=self.batch_size or loader.batch_size,
                           shuffle=False, num_workers=0,
                           collate_fn=pseudo_collate)
        was_training = model.training
        model.eval()
        layout = model.layout
        feats = {n: [] for n in layout.names}
        labels = []
        try:
            for i, batch in enumerate(plain):
                if self.max_batches is not None and i >= self.max_batches:
                    break
                data = model.data_preprocessor(batch, False)
                inputs = data['inputs']
                full = torch.ones(inputs.shape[0], len(layout),
                                  dtype=torch.bool)
                modal = model.backbone.encode(inputs, full)
                vecs, y, _, valid = losses[0].features(
                    modal, data['data_samples'], model.task)
                keep = valid.nonzero().flatten()
                for name in layout.names:
                    feats[name].append(vecs[name].index_select(0, keep).cpu())
                labels.append(y.index_select(0, keep).cpu())
        finally:
            model.train(was_training)
        labels = torch.cat(labels)
        split = torch.stack([
            discriminative_dims(torch.cat(feats[n]), labels, num_classes)
            for n in layout.names])
        for loss in losses:
            loss.set_split(split)
        sizes = ', '.join(f'{n}: {int(s.sum())}/{s.numel()}'
                          for n, s in zip(layout.names, split))
        print_log(f'DUCSplitHook: discriminative dimensions from '
                  f'{labels.numel()} samples ({sizes})', logger='current')
