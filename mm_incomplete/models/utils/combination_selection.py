"""Which samples belong to the selected modality combinations.

Shorthand: B batch, M modalities, K combinations (``layout.combinations()``,
largest first).

Two regularizers of this package train an auxiliary head on the samples of a
few chosen combinations only: DMRNet's hard-combination regularizer and
MMANet's modality-aware regularization. They differ only in how the
combinations are chosen (named in the config, or mined during training:
largest embedding variance for DMRNet, largest validation drop for MMANet).
:class:`CombinationSelector` is the mechanism they share:

- ``selected``, a persistent (K,) bool buffer: it is part of the model's
  ``state_dict``, so the chosen set lands in every checkpoint and comes back
  on resume or ``load_from``;
- ``sample_mask(mask)``: (B,) bool, which samples of a batch are selected
  (given the host copy of the mask, computed on the host without reading
  the device: the selected flags are mirrored on the host, refreshed only
  when the buffer changes or moves);
- mining accumulators (``score_sum``, ``score_count``; persistent too, so a
  run resumed inside a mining window keeps what it has gathered), fed per
  sample (:meth:`accumulate`) or per combination
  (:meth:`accumulate_combination`), closed by :meth:`finish_mining`, which
  selects the ``num_selected`` candidates with the largest (or smallest) mean
  score. A hook opens and closes the mining window
  (:class:`~mm_incomplete.engine.hooks.CombinationMiningHook`).
"""
from typing import Dict, List, Sequence, Union

import torch
import torch.nn as nn
from mmengine import dist

from mm_incomplete.modality import Combination, ModalityLayout


class CombinationSelector(nn.Module):
    """A persistent set of selected modality combinations, fixed or mined.

    Args:
        modalities (str | dict | ModalityLayout): the model's modality layout,
            e.g. ``dict(rgb=3, depth=1)``.
        combinations (str | list[str] | None): the selected combinations,
            e.g. ``['depth']``. ``None``: nothing is selected until the set
            is mined during training.
        candidates (str | list[str] | None): the combinations mining may
            choose from. ``None``: every combination but the full one.
        num_selected (int): how many combinations mining selects.
        rule (str): ``'max'`` selects the largest mean scores, ``'min'`` the
            smallest.
        option (str): config key the selector was built from, used in error
            messages.

    Example:
        >>> sel = CombinationSelector(dict(rgb=3, depth=1), ['depth'])
        >>> mask = torch.tensor([[True, True], [False, True], [True, False]])
        >>> sel.sample_mask(mask)
        tensor([False,  True, False])
        >>> sel.selected_names
        ['depth']
        >>> mined = CombinationSelector(dict(rgb=3, depth=1))
        >>> mined.accumulate(torch.tensor([0.1, 0.9, 0.2]), mask)
        >>> mined.finish_mining()
        ['depth']
    """

    RULES = ('max', 'min')

    def __init__(self,
                 modalities,
                 combinations: Union[None, str, Sequence] = None,
                 candidates: Union[None, str, Sequence] = None,
                 num_selected: int = 1,
                 rule: str = 'max',
                 option: str = 'combinations'):
        super().__init__()
        self.layout = ModalityLayout(modalities)
        self.option = option
        self.all_combinations: List[Combination] = self.layout.combinations()
        if rule not in self.RULES:
            raise ValueError(f'`rule` of `{option}` must be one of '
                             f'{self.RULES}, got {rule!r}')
        self.rule = rule
        if candidates is None:
            cands = [c for c in self.all_combinations if c != self.layout.full]
            cands = cands or list(self.all_combinations)
        else:
            cands = self.layout.parse_combinations(candidates, 'candidates')
        if not isinstance(num_selected, int) or not \
                1 <= num_selected <= len(cands):
            raise ValueError(
                f'`num_selected` must be an int in [1, {len(cands)}] (the '
                f'number of candidates), got {num_selected!r}')
        self.num_selected = num_selected
        # config-defined, so not saved: a checkpoint carries what was chosen
        self.register_buffer('candidates', self._flags(cands),
                             persistent=False)
        self.register_buffer(
            'combination_table',
            torch.stack([self.layout.combination_mask(c)
                         for c in self.all_combinations]),
            persistent=False)  # (K, M)
        # host copies for masks on the CPU (no device read per step)
        self._host_table = self.combination_table.clone()
        self._host_selected = None
        self._host_key = None

        K = len(self.all_combinations)
        self.fixed = combinations is not None
        selected = torch.zeros(K, dtype=torch.bool)
        if self.fixed:
            selected = self._flags(
                self.layout.parse_combinations(combinations, option))
        self.register_buffer('selected', selected)
        self.register_buffer('score_sum', torch.zeros(K, dtype=torch.float64))
        self.register_buffer('score_count',
                             torch.zeros(K, dtype=torch.float64))
        # True while a mining window is open; set by the mining hook every
        # iteration, so it needs no place in the checkpoint.
        self.mining = False

    # -- combinations <-> indices -------------------------------------------
    def _flags(self, combos: Sequence[Combination]) -> torch.Tensor:
        flags = torch.zeros(len(self.all_combinations), dtype=torch.bool)
        for combo in combos:
            flags[self.all_combinations.index(combo)] = True
        return flags

    def combination_index(self, mask: torch.Tensor) -> torch.Tensor:
        """Index into ``layout.combinations()`` of each row.

        Args:
            mask (Tensor): (B, M) bool modality mask, at least one True per
                row.

        Returns:
            Tensor: (B,) long.
        """
        if mask.dim() != 2 or mask.shape[1] != len(self.layout):
            raise ValueError(f'expected a (B, {len(self.layout)}) modality '
                             f'mask, got shape {tuple(mask.shape)}')
        table = self._host_table if mask.device.type == 'cpu' else \
            self.combination_table.to(mask.device)
        match = (mask.bool()[:, None, :] == table[None]).all(-1)  # (B, K)
        if not bool(match.any(1).all()):
            raise ValueError('a row of the modality mask has no modality')
        return match.float().argmax(1)

    # -- the selected set ---------------------------------------------------
    @property
    def selected_combinations(self) -> List[Combination]:
        """The selected combinations, largest first."""
        return [c for c, s in zip(self.all_combinations,
                                  self.selected.tolist()) if s]

    @property
    def selected_names(self) -> List[str]:
        """Names of the selected combinations, e.g. ``['depth']``."""
        return [self.layout.combination_name(c)
                for c in self.selected_combinations]

    @property
    def candidate_names(self) -> List[str]:
        return [self.layout.combination_name(c) for c, s in zip(
            self.all_combinations, self.candidates.tolist()) if s]

    def set_selected(self, combinations) -> None:
        """Replace the selected set (names or tuples; empty clears it)."""
        combos = self.layout.parse_combinations(combinations, self.option) \
            if combinations else []
        self.selected.copy_(self._flags(combos))

    def host_selected(self) -> torch.Tensor:
        """(K,) bool copy of ``selected`` on the host.

        Copied from the buffer only when the buffer is a different tensor
        (moved) or was changed in place (its version counter moved): after
        mining, loading a checkpoint or ``set_selected``, not per step.
        """
        sel = self.selected
        key = (id(sel), sel._version, sel.device)
        if self._host_key != key:
            self._host_selected = sel.detach().to('cpu').clone()
            self._host_key = key
        return self._host_selected

    def sample_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(B,) bool: does sample b's combination belong to the selected set?

        Args:
            mask (Tensor): (B, M) bool modality mask; on the CPU (the host
                copy) the answer is computed there, without reading the
                device.
        """
        if mask.device.type == 'cpu':
            return self.host_selected()[self.combination_index(mask)]
        return self.selected.to(mask.device)[self.combination_index(mask)]

    # -- mining ---------------------------------------------------------------
    @torch.no_grad()
    def accumulate(self, scores: torch.Tensor, mask: torch.Tensor) -> None:
        """Add per-sample scores to the running per-combination sums.

        Args:
            scores (Tensor): (B,) one score per sample (detached here).
            mask (Tensor): (B, M) bool modality mask of the samples.
        """
        if scores.shape != mask.shape[:1]:
            raise ValueError(f'scores of shape {tuple(scores.shape)} for a '
                             f'mask of {mask.shape[0]} samples')
        idx = self.combination_index(mask).to(self.score_sum.device,
                                              non_blocking=True)
        self.score_sum.index_add_(0, idx, scores.detach().to(
            self.score_sum.device, self.score_sum.dtype))
        self.score_count.index_add_(0, idx, torch.ones_like(
            idx, dtype=self.score_count.dtype))

    @torch.no_grad()
    def accumulate_combination(self, combination, score: float,
                               count: float = 1.0) -> None:
        """Add ``score`` (a total over ``count`` observations) to one
        combination, e.g. a validation metric measured by a hook."""
        combo = self.layout.parse_combination(combination, self.option)
        k = self.all_combinations.index(combo)
        self.score_sum[k] += float(score)
        self.score_count[k] += float(count)

    def mean_scores(self) -> Dict[str, float]:
        """Mean score of every combination observed so far (this rank)."""
        return {self.layout.combination_name(c): (s / n)
                for c, s, n in zip(self.all_combinations,
                                   self.score_sum.tolist(),
                                   self.score_count.tolist()) if n > 0}

    def reset_scores(self) -> None:
        self.score_sum.zero_()
        self.score_count.zero_()

    @torch.no_grad()
    def finish_mining(self) -> List[str]:
        """Select the candidates with the best mean score; reset the sums.

        Sums are reduced over distributed ranks first, so every rank selects
        the same set.

        Returns:
            list[str]: names of the selected combinations.
        """
        if self.fixed:
            raise RuntimeError(
                f'`{self.option}` is fixed by the config '
                f'({self.selected_names}); set it to None to mine it')
        total = torch.stack([self.score_sum, self.score_count])
        if dist.get_world_size() > 1:
            dist.all_reduce(total, op='sum')
        sums, counts = total
        seen = self.candidates & (counts > 0)
        if int(seen.sum()) < self.num_selected:
            raise RuntimeError(
                f'cannot mine `{self.option}`: only '
                f'{int(seen.sum())} of the candidates {self.candidate_names} '
                f'were observed in the mining window but {self.num_selected} '
                'must be selected; widen the window or draw these '
                'combinations during it')
        means = sums / counts.clamp(min=1)
        fill = float('-inf') if self.rule == 'max' else float('inf')
        means = torch.where(seen, means, torch.full_like(means, fill))
        order = means.argsort(descending=self.rule == 'max')
        flags = torch.zeros_like(self.selected)
        flags[order[:self.num_selected]] = True
        self.selected.copy_(flags)
        self.reset_scores()
        return self.selected_names

    def extra_repr(self) -> str:
        return (f'layout={self.layout!r}, selected={self.selected_names}, '
                f'fixed={self.fixed}, candidates={self.candidate_names}, '
                f'num_selected={self.num_selected}, rule={self.rule!r}')


def find_selectors(model: nn.Module) -> List[CombinationSelector]:
    """Every :class:`CombinationSelector` inside ``model`` (wrappers too)."""
    model = getattr(model, 'module', model)
    return [m for m in model.modules() if isinstance(m, CombinationSelector)]


def selection_state(model: nn.Module) -> Dict[str, List[str]]:
    """``{selector path: selected combination names}`` of a model (e.g.
    ``{'method_losses.hard_combination.selector': ['depth']}``): the mined
    state an evaluation reports with its metrics."""
    model = getattr(model, 'module', model)
    return {name: m.selected_names for name, m in model.named_modules()
            if isinstance(m, CombinationSelector)}

