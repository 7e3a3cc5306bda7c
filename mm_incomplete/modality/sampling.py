"""Training-time policies that draw a modality mask per sample.

Shorthand: B batch, M modalities, K combinations.

Every policy is called as ``policy(batch_size, layout)`` and returns a (B, M)
bool mask with at least one modality kept per row. Policies live in mmengine's
root ``TASK_UTILS`` registry, so both the mmseg and the mmpretrain scope build
them from ``dict(type=...)``. With ``seed`` given, a policy owns its random
generator (reproducible and independent of anything else drawing random
numbers); without it, it draws from torch's global generator, which mmengine's
``randomness=dict(seed=...)`` seeds.
"""
from typing import Optional

import torch
from mmengine.registry import TASK_UTILS

from .layout import ModalityLayout


class CombinationSampler:
    """Base class: owns the optional generator and validates the output."""

    def __init__(self, seed: Optional[int] = None):
        self.seed = seed
        self._generator = None

    def generator(self) -> Optional[torch.Generator]:
        if self.seed is None:
            return None
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(int(self.seed))
        return self._generator

    def __call__(self, batch_size: int,
                 layout: ModalityLayout) -> torch.Tensor:
        mask = self.sample(batch_size, layout)
        assert mask.shape == (batch_size, len(layout)) and mask.any(1).all()
        return mask

    def sample(self, batch_size: int,
               layout: ModalityLayout) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Generator state, so a resumed run continues the same draws."""
        gen = self.generator()
        return {} if gen is None else {'generator': gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        gen = self.generator()
        if gen is not None and 'generator' in state:
            gen.set_state(state['generator'])


def _draw_from(combos, weights, batch_size, layout, generator):
    """Draw B combinations from ``combos`` with ``weights``: (B, M) bool."""
    masks = torch.stack([layout.combination_mask(c) for c in combos])
    idx = torch.multinomial(torch.as_tensor(weights, dtype=torch.float),
                            batch_size, replacement=True, generator=generator)
    return masks[idx]


@TASK_UTILS.register_module()
class FixedCombination(CombinationSampler):
    """Every sample gets the same combination (full modalities by default).

    Args:
        combination (str | list[str] | None): e.g. ``'rgb+depth'``; ``None``
            means every modality.

    Example:
        >>> layout = ModalityLayout('rgb:3,depth:1')
        >>> FixedCombination('rgb')(2, layout)
        tensor([[ True, False],
                [ True, False]])
    """

    def __init__(self, combination=None, seed: Optional[int] = None):
        super().__init__(seed)
        self.combination = combination

    def sample(self, batch_size, layout):
        combo = layout.full if self.combination is None else \
            layout.parse_combination(self.combination, 'combination')
        return layout.combination_mask(combo).expand(batch_size, -1).clone()


@TASK_UTILS.register_module()
class UniformCombinations(CombinationSampler):
    """Each sample draws one of the 2^M - 1 combinations uniformly.

    Example:
        >>> layout = ModalityLayout('rgb:3,depth:1')
        >>> UniformCombinations(seed=0)(4, layout).shape
        torch.Size([4, 2])
    """

    def sample(self, batch_size, layout):
        combos = layout.combinations()
        return _draw_from(combos, [1.0] * len(combos), batch_size, layout,
                          self.generator())


@TASK_UTILS.register_module()
class ModDrop(CombinationSampler):
    """ModDrop: drop each modality independently with its own probability.

    Rows where every modality was dropped are drawn again, so the result is
    the independent-drop distribution conditioned on a non-empty combination.

    Args:
        drop_prob (float | dict[str, float]): probability of dropping each
            modality, one number for all or ``{name: p}`` (names not listed
            are never dropped).

    Example:
        >>> layout = ModalityLayout('rgb:3,depth:1')
        >>> m = ModDrop(drop_prob=dict(depth=1.0), seed=0)(3, layout)
        >>> m.tolist()
        [[True, False], [True, False], [True, False]]
    """

    def __init__(self, drop_prob=0.5, seed: Optional[int] = None):
        super().__init__(seed)
        probs = drop_prob.values() if isinstance(drop_prob, dict) \
            else [drop_prob]
        for p in probs:
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f'`drop_prob` must lie in [0, 1], got {p}')
        self.drop_prob = drop_prob

    def _probs(self, layout) -> torch.Tensor:
        if isinstance(self.drop_prob, dict):
            for name in self.drop_prob:
                layout.index(name)  # unknown names raise, naming the layout
            return torch.tensor(
                [float(self.drop_prob.get(n, 0.0)) for n in layout.names])
        return torch.full((len(layout), ), float(self.drop_prob))

    def sample(self, batch_size, layout):
        probs = self._probs(layout)
        if bool((probs >= 1.0).all()):
            raise ValueError('`drop_prob` drops every modality always; no '
                             'non-empty combination can be drawn')
        keep = torch.empty(batch_size, len(layout), dtype=torch.bool)
        todo = torch.arange(batch_size)
        while todo.numel():
            u = torch.rand(todo.numel(), len(layout),
                           generator=self.generator())
            draw = u >= probs
            keep[todo] = draw
            todo = todo[~draw.any(1)]
        return keep


@TASK_UTILS.register_module()
class WeightedCombinations(CombinationSampler):
    """Draw combinations with given weights (e.g. toward weak ones).

    Args:
        weights (dict[str, float]): ``{'rgb+depth': 1, 'depth': 3}``;
            combinations not named get ``default_weight``.
        default_weight (float): weight of the combinations not named.

    Example:
        >>> layout = ModalityLayout('rgb:3,depth:1')
        >>> s = WeightedCombinations({'depth': 1.0}, default_weight=0, seed=0)
        >>> s(2, layout).tolist()
        [[False, True], [False, True]]
    """

    def __init__(self, weights: dict, default_weight: float = 0.0,
                 seed: Optional[int] = None):
        super().__init__(seed)
        if not weights and default_weight <= 0:
            raise ValueError('`weights` is empty and `default_weight` is 0: '
                             'no combination can be drawn')
        bad = {k: v for k, v in weights.items() if float(v) < 0}
        if bad or default_weight < 0:
            raise ValueError(f'`weights` must be non-negative, got {bad or default_weight}')
        self.weights = dict(weights)
        self.default_weight = float(default_weight)

    def sample(self, batch_size, layout):
        named = {layout.parse_combination(k, 'weights'): float(v)
                 for k, v in self.weights.items()}
        combos = layout.combinations()
        w = [named.get(c, self.default_weight) for c in combos]
        if sum(w) <= 0:
            raise ValueError('`weights` sum to 0 over the combinations of '
                             f'{layout!r}')
        return _draw_from(combos, w, batch_size, layout, self.generator())


def build_sampler(cfg) -> CombinationSampler:
    """Build a policy from a config dict, a combination name or a policy."""
    if isinstance(cfg, CombinationSampler):
        return cfg
    if cfg is None:
        return FixedCombination()
    if isinstance(cfg, (str, list, tuple)):
        return FixedCombination(cfg)
    return TASK_UTILS.build(cfg)
