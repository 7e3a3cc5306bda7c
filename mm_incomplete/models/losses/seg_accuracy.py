"""The pixel accuracy every mmseg decode head logs in training
(``acc_seg``), from an argmax and without host synchronisation.

Shorthand: B batch, K classes, H x W label size.

mmseg 1.x's ``BaseDecodeHead.loss_by_feat`` calls
``mmseg.models.losses.accuracy`` on every training step: a ``topk`` over the
K classes of the full-size logits, then a boolean index by the valid pixels
and the element count of another, which make the host wait for the device
twice. :func:`pixel_accuracy` gives the same values for what the decode
heads ask (top-1, no threshold) with one argmax over K and counts that
stay on the device::

    correct = sum_{b,h,w} [argmax_k pred_bkhw = y_bhw] [y_bhw != ignore]
    acc     = 100 (correct + eps) / (#{y != ignore} + eps)

(eps = float32 eps, as mmseg; an image whose pixels are all ignored scores
100, as in mmseg). Other requests (top-k with k > 1, a threshold) are
answered by mmseg's own function.

:func:`install` puts it in place of the name ``accuracy`` in mmseg's
``decode_head`` module, the one place every decode head of this project
reads it from (``ESANetHead``, ``UPerHead``, ``FCNHead`` as auxiliary or
regularizer head, the per-modality heads of ``LateFusionHead``, teachers
and students alike); ``import mm_incomplete`` installs it. mmseg's
``Accuracy`` module and its other heads are left alone.
"""
import torch
from mmseg.models.decode_heads import decode_head as _decode_head
from mmseg.models.losses.accuracy import accuracy as mmseg_accuracy


def pixel_accuracy(pred: torch.Tensor, target: torch.Tensor, topk=1,
                   thresh=None, ignore_index=None):
    """mmseg's ``accuracy`` for top-1 without a threshold, by argmax and with
    no host synchronisation; other arguments go to mmseg's function.

    Args:
        pred (Tensor): (B, K, ...) logits.
        target (Tensor): (B, ...) class ids.
        topk (int | tuple[int]): 1 here; anything else is mmseg's.
        thresh (float, optional): ``None`` here; a value is mmseg's.
        ignore_index (int, optional): label value that does not count.

    Returns:
        Tensor: (1, ) accuracy in percent, on ``pred``'s device (a 0-dim
        zero for an empty batch, as mmseg).

    Example:
        >>> pred = torch.tensor([[[2., 0.]], [[1., 3.]]]).permute(1, 0, 2)
        >>> acc = pixel_accuracy(pred, torch.tensor([[0, 0]]),
        ...                      ignore_index=255)
        >>> acc.shape, round(float(acc), 4)
        (torch.Size([1]), 50.0)
    """
    if topk != 1 or thresh is not None:
        return mmseg_accuracy(pred, target, topk, thresh, ignore_index)
    if pred.size(0) == 0:
        return pred.new_tensor(0.)
    if pred.dim() != target.dim() + 1 or pred.shape[0] != target.shape[0] \
            or pred.shape[2:] != target.shape[1:]:
        raise ValueError(f'pixel_accuracy: pred {tuple(pred.shape)} must be '
                         f'(B, K, ...) for target {tuple(target.shape)} '
                         '(B, ...)')
    eps = torch.finfo(torch.float32).eps
    with torch.no_grad():
        correct = pred.argmax(1) == target
        if ignore_index is None:
            total = torch.full((), float(target.numel()), dtype=torch.float64,
                               device=pred.device)
        else:
            valid = target != ignore_index
            correct &= valid
            total = valid.sum().double()
        hits = correct.sum().float().reshape(1) + eps
        # mmseg multiplies by the float32 rounding of 100 / (total + eps)
        return hits * (100.0 / (total + eps)).float()


def install() -> None:
    """Let mmseg's decode heads compute ``acc_seg`` with
    :func:`pixel_accuracy` (idempotent)."""
    _decode_head.accuracy = pixel_accuracy


install()
