"""Cross-entropy with class weights read from a file next to the data.

Shorthand: B batch, K classes, H x W.

mmseg's ``CrossEntropyLoss(class_weight=..., avg_non_ignore=True)`` gives

    L = sum_i w_{y_i} CE_i / sum_i w_{y_i}     (i over non-ignored pixels)

which is exactly the loss of ESANet's code (``CrossEntropyLoss2d``: the
weighted sum divided by the weighted pixel count), the task loss that
DMRNet's and MMANet's loss weights were tuned against. The weights
(median frequency of the training split) are computed by
``tools/dataset_converters/class_weights.py`` and stored with the data; this
loss reads them on its first call, so a config builds before the data is
prepared, and training without the file fails naming it.
"""
import json
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS


def load_class_weights(path: str, num_classes: Optional[int] = None) -> list:
    """The ``weights`` of a class-weights JSON file, checked.

    Raises:
        FileNotFoundError: no such file (the message says how to make it).
        ValueError: not K finite non-negative weights.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'class weights file {path!r} not found; compute it from the '
            'training split with `python tools/dataset_converters/'
            'class_weights.py DATA_ROOT/LABEL_DIR/train --num-classes K -o '
            f'{path}`')
    with open(path) as f:
        record = json.load(f)
    weights = record.get('weights') if isinstance(record, dict) else record
    if not isinstance(weights, list) or not weights:
        raise ValueError(f'{path}: expected a JSON list of weights or a dict '
                         "with 'weights'")
    arr = np.asarray(weights, dtype=np.float64)
    if arr.ndim != 1 or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f'{path}: weights must be finite and >= 0, got '
                         f'{weights[:5]}...')
    if num_classes is not None and len(weights) != num_classes:
        raise ValueError(f'{path} has {len(weights)} class weights, the '
                         f'model predicts {num_classes} classes')
    return arr.tolist()


@MODELS.register_module()
class FileWeightedCrossEntropyLoss(CrossEntropyLoss):
    """mmseg ``CrossEntropyLoss`` whose class weights come from a file.

    Args:
        class_weight_file (str): JSON written by
            ``tools/dataset_converters/class_weights.py`` (or a plain JSON
            list of K weights); read on the first forward.
        avg_non_ignore (bool): average over non-ignored pixels (with class
            weights: divide by their weight sum). Defaults to True.
        **kwargs: the other ``CrossEntropyLoss`` arguments
            (``loss_weight``, ``loss_name``, ...); ``class_weight`` is not
            allowed.

    Example:
        >>> import json, tempfile, os.path as osp
        >>> path = osp.join(tempfile.mkdtemp(), 'w.json')
        >>> json.dump(dict(weights=[1.0, 3.0]), open(path, 'w'))
        >>> loss = FileWeightedCrossEntropyLoss(path)
        >>> logits = torch.zeros(1, 2, 1, 2)
        >>> float(loss(logits, torch.tensor([[[0, 1]]]))) == float(
        ...     torch.log(torch.tensor(2.)))
        True
    """

    def __init__(self, class_weight_file: str, avg_non_ignore: bool = True,
                 **kwargs):
        if 'class_weight' in kwargs:
            raise ValueError('FileWeightedCrossEntropyLoss reads its weights '
                             'from `class_weight_file`; remove class_weight')
        super().__init__(avg_non_ignore=avg_non_ignore, **kwargs)
        self.class_weight_file = class_weight_file
        self._weights_cache = {}  # (device, dtype) -> (K, ) weights

    def weights_on(self, cls_score: torch.Tensor,
                   dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """The (K, ) class weights on ``cls_score``'s device in ``dtype``
        (default: float32, or ``cls_score``'s reduced dtype outside
        autocast, which ``F.cross_entropy`` needs then). Read from the file
        on the first call; copied to each device once, not on every step
        (mmseg's ``new_tensor`` of a list copies from pageable memory)."""
        if self.class_weight is None:
            self.class_weight = load_class_weights(self.class_weight_file,
                                                   cls_score.shape[1])
        if dtype is None:
            dtype = torch.promote_types(cls_score.dtype, torch.float32)
            if cls_score.dtype in (torch.float16, torch.bfloat16) and \
                    not torch.is_autocast_enabled(cls_score.device.type):
                dtype = cls_score.dtype
        key = (cls_score.device, dtype)
        if key not in self._weights_cache:
            self._weights_cache[key] = torch.tensor(
                self.class_weight, dtype=dtype, device=cls_score.device)
        return self._weights_cache[key]

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor=None, reduction_override=None,
                ignore_index: int = -100, **kwargs) -> torch.Tensor:
        """Loss of logits (B, K, H, W) against labels (B, H, W); nothing is
        read back from the device."""
        if reduction_override not in (None, 'none', 'mean', 'sum'):
            raise ValueError(f'reduction_override must be none, mean or '
                             f'sum, got {reduction_override!r}')
        class_weight = self.weights_on(cls_score)
        reduction = reduction_override or self.reduction
        if avg_factor is None and reduction == 'mean' and \
                self.avg_non_ignore:
            # the weight sum of the non-ignored pixels, on the device
            # (mmseg 1.2.2 indexes the weights with the ignored label first,
            # and a boolean index would make the host wait)
            valid = label != ignore_index
            safe = torch.where(valid, label, torch.zeros_like(label))
            avg_factor = (self.weights_on(cls_score, torch.float32)[safe] *
                          valid).sum()
        return self.loss_weight * self.cls_criterion(
            cls_score, label, weight, class_weight=class_weight,
            reduction=reduction, avg_factor=avg_factor,
            avg_non_ignore=self.avg_non_ignore, ignore_index=ignore_index,
            **kwargs)

    def extra_repr(self) -> str:
        return (f'class_weight_file={self.class_weight_file!r}, '
                f'{super().extra_repr()}')
