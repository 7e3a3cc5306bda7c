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

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor=None, reduction_override=None,
                ignore_index: int = -100, **kwargs) -> torch.Tensor:
        """Loss of logits (B, K, H, W) against labels (B, H, W)."""
        if self.class_weight is None:
            self.class_weight = load_class_weights(self.class_weight_file,
                                                   cls_score.shape[1])
        reduction = reduction_override or self.reduction
        if avg_factor is None and reduction == 'mean' and \
                self.avg_non_ignore:
            # the weight sum of the non-ignored pixels (computed here:
            # mmseg 1.2.2 indexes the weights with the ignored label first)
            class_weight = cls_score.new_tensor(self.class_weight)
            avg_factor = class_weight[label[label != ignore_index]].sum()
        return super().forward(cls_score, label, weight, avg_factor,
                               reduction_override, ignore_index, **kwargs)

    def extra_repr(self) -> str:
        return (f'class_weight_file={self.class_weight_file!r}, '
                f'{super().extra_repr()}')
