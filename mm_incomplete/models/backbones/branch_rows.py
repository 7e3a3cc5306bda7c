"""Which samples a modality's branch runs on, and where its features go.

Shorthand: B batch, M modalities, N rows a branch runs on, C channels.

A branch encodes one modality. Under a modality mask (B, M) it runs only on
the samples whose modality is present, so zeroed inputs of absent samples
never reach its BatchNorm statistics, and its features are placed back into
a (B, ...) tensor that is zero for the absent samples:

- modality absent from the whole batch: the branch does not run (``skip``);
- present in every sample: it runs on the batch as is (``all``);
- present in some: it runs on those N rows only (``rows``) and the outputs
  are scattered back;
- the single-sample BatchNorm exception (``zeroed``): in training, a branch
  present in exactly one sample of a larger batch runs on the whole batch
  with the other samples' inputs zeroed, because BatchNorm cannot normalise
  one sample whose feature map has shrunk to 1 x 1; the outputs of the other
  samples are zeroed again afterwards.

This is independent of what the branch is (ResNet, MiT, ConvNeXt): the
multi-branch backbone asks :func:`plan_branch_rows` once per forward and uses
:meth:`BranchRows.take` / :meth:`BranchRows.place` around each branch call.
The plan is decided on the host copy of the mask (the task models hand the
backbone the mask on the CPU: no synchronisation); the row indices and keep
masks it needs on the device are copied there without waiting.
"""
from typing import List

import torch

from .mask_utils import scatter_rows


class BranchRows:
    """How one branch runs on a batch, given its (B,) presence column.

    Args:
        kind (str): ``'skip'``, ``'all'``, ``'rows'`` or ``'zeroed'`` (see
            the module docstring).
        present (Tensor): (B,) bool, True where the modality is present,
            best on the host.
        device (torch.device | str, optional): where the features live; the
            rows' index (``'rows'``) or keep mask (``'zeroed'``) is copied
            there without waiting. Defaults to ``present``'s device.

    Example:
        >>> present = torch.tensor([True, False, True])
        >>> rows = BranchRows('rows', present)
        >>> x = torch.arange(3.).view(3, 1)
        >>> rows.take(x).flatten().tolist()
        [0.0, 2.0]
        >>> rows.place(rows.take(x) + 1, 3).flatten().tolist()
        [1.0, 0.0, 3.0]
    """

    KINDS = ('skip', 'all', 'rows', 'zeroed')

    def __init__(self, kind: str, present: torch.Tensor, device=None):
        if kind not in self.KINDS:
            raise ValueError(f'BranchRows kind must be one of {self.KINDS}, '
                             f'got {kind!r}')
        self.kind = kind
        self.present = present
        device = present.device if device is None else device
        if kind == 'rows':  # (N,) long indices of the present rows
            self.index = present.nonzero().flatten().to(
                device, non_blocking=True)
        elif kind == 'zeroed':  # (B,) bool keep mask
            self.keep = present.to(device, non_blocking=True)

    @property
    def runs(self) -> bool:
        """False when the branch does not run at all."""
        return self.kind != 'skip'

    def _zero_absent(self, x: torch.Tensor) -> torch.Tensor:
        keep = self.keep.view(-1, *[1] * (x.dim() - 1))
        return x.masked_fill(~keep, 0)

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """The branch input (B or N, ...) from the batch input (B, ...)."""
        if self.kind == 'skip':
            raise RuntimeError('take() on a branch that does not run')
        if self.kind == 'all':
            return x
        if self.kind == 'zeroed':
            return self._zero_absent(x)
        return x.index_select(0, self.index)

    def place(self, f: torch.Tensor, batch: int) -> torch.Tensor:
        """A branch output (B or N, ...) back as (B, ...), zero for the
        samples where the modality is absent; gradients flow to ``f``."""
        if self.kind == 'skip':
            raise RuntimeError('place() on a branch that does not run')
        if self.kind == 'all':
            return f
        if self.kind == 'zeroed':
            return self._zero_absent(f)
        return scatter_rows(f, self.index, batch)

    def __repr__(self) -> str:
        return (f'BranchRows({self.kind!r}, '
                f'{int(self.present.sum())}/{self.present.numel()})')


def plan_branch_rows(mask: torch.Tensor, training: bool,
                     device=None) -> List[BranchRows]:
    """One :class:`BranchRows` per modality (column of ``mask``).

    Args:
        mask (Tensor): (B, M) bool, validated (``host_modality_mask``); on
            the host, the plan reads nothing back from a device.
        training (bool): whether the branches are in training mode (the
            single-sample BatchNorm exception applies only then).
        device (torch.device | str, optional): the features' device (see
            :class:`BranchRows`).

    Returns:
        list[BranchRows]: in layout order.

    Example:
        >>> mask = torch.tensor([[True, True], [True, False], [True, False]])
        >>> [r.kind for r in plan_branch_rows(mask, training=False)]
        ['all', 'rows']
        >>> [r.kind for r in plan_branch_rows(mask[:2], training=True)]
        ['all', 'zeroed']
    """
    batch = mask.shape[0]
    counts = mask.sum(0).tolist()  # free for a host mask
    plans = []
    for m, n in enumerate(counts):
        if n == 0:
            kind = 'skip'
        elif n == batch:
            kind = 'all'
        elif training and n == 1:
            kind = 'zeroed'
        else:
            kind = 'rows'
        plans.append(BranchRows(kind, mask[:, m], device))
    return plans
