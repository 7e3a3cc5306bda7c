"""Ordered modality layout and modality combinations.

Shorthand: B batch, M modalities, C stacked channels (sum over modalities),
H x W spatial size, K combinations.

A *layout* is the ordered list of modalities a model sees, each with its channel
count (``rgb:3, depth:1``). The channels of a sample are stacked in layout order,
so ``inputs[:, layout.channel_slice('depth')]`` is the depth map. A *combination*
is a non-empty subset of the modalities, written in layout order and named by
joining the names with ``+`` (``rgb+depth``).
"""
from itertools import combinations as _subsets
from typing import Dict, Iterable, List, Sequence, Tuple, Union

import torch

Combination = Tuple[str, ...]
LayoutSpec = Union['ModalityLayout', str, Dict[str, int],
                   Sequence[Tuple[str, int]]]
CombinationSpec = Union[str, Sequence[str]]


class ModalityLayout:
    """The ordered modalities of a model and their channel counts.

    Args:
        modalities (str | dict | list[tuple[str, int]] | ModalityLayout): the
            modalities in channel order: ``'rgb:3,depth:1'``,
            ``dict(rgb=3, depth=1)`` or ``[('rgb', 3), ('depth', 1)]``.
        option (str): name of the option the layout came from, used in error
            messages. Defaults to ``'modalities'``.

    Example:
        >>> layout = ModalityLayout('rgb:3,depth:1')
        >>> layout.names, layout.total_channels
        (('rgb', 'depth'), 4)
        >>> [layout.combination_name(c) for c in layout.combinations()]
        ['rgb+depth', 'rgb', 'depth']
        >>> layout.combination_mask('depth')
        tensor([False,  True])
    """

    def __init__(self, modalities: LayoutSpec, option: str = 'modalities'):
        if isinstance(modalities, ModalityLayout):
            pairs = list(zip(modalities.names, modalities.channels))
        else:
            pairs = self._parse(modalities, option)
        if not pairs:
            raise ValueError(f'`{option}` is empty: give at least one '
                             'modality, e.g. "rgb:3,depth:1"')
        names = [n for n, _ in pairs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f'`{option}` names {dup} more than once')
        for name, ch in pairs:
            if not isinstance(name, str) or not name or '+' in name \
                    or ',' in name:
                raise ValueError(f'`{option}`: invalid modality name '
                                 f'{name!r} (no "+" or "," allowed)')
            if not isinstance(ch, int) or isinstance(ch, bool) or ch < 1:
                raise ValueError(f'`{option}`: modality {name!r} needs a '
                                 f'positive integer channel count, got {ch!r}')
        self.option = option
        self.names: Tuple[str, ...] = tuple(names)
        self.channels: Tuple[int, ...] = tuple(c for _, c in pairs)

    @staticmethod
    def _parse(spec, option) -> List[Tuple[str, int]]:
        if isinstance(spec, str):
            pairs = []
            for item in filter(None, (s.strip() for s in spec.split(','))):
                name, sep, ch = item.partition(':')
                if not sep or not ch.strip().isdigit():
                    raise ValueError(
                        f'`{option}`: cannot parse {item!r} in {spec!r}; '
                        'expected "name:channels", e.g. "rgb:3,depth:1"')
                pairs.append((name.strip(), int(ch)))
            return pairs
        if isinstance(spec, dict):
            return list(spec.items())
        try:
            return [(n, c) for n, c in spec]
        except (TypeError, ValueError):
            raise TypeError(f'`{option}` must be a "name:channels" string, a '
                            f'dict or a list of (name, channels); got {spec!r}')

    # -- basic facts ------------------------------------------------------
    @property
    def num_modalities(self) -> int:
        """M, the number of modalities."""
        return len(self.names)

    @property
    def total_channels(self) -> int:
        """C, the number of stacked channels."""
        return sum(self.channels)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    def __eq__(self, other) -> bool:
        return isinstance(other, ModalityLayout) and \
            (self.names, self.channels) == (other.names, other.channels)

    def __hash__(self):
        return hash((self.names, self.channels))

    def __repr__(self) -> str:
        body = ','.join(f'{n}:{c}' for n, c in zip(self.names, self.channels))
        return f"ModalityLayout('{body}')"

    def index(self, name: str) -> int:
        """Position of modality ``name`` in the layout."""
        if name not in self.names:
            raise KeyError(f'unknown modality {name!r} in `{self.option}`; '
                           f'known: {list(self.names)}')
        return self.names.index(name)

    def channel_slice(self, name: str) -> slice:
        """The channels of modality ``name`` in the stacked (C) dimension."""
        i = self.index(name)
        start = sum(self.channels[:i])
        return slice(start, start + self.channels[i])

    def split(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Split stacked inputs (B, C, ...) into {name: (B, C_m, ...)}."""
        if inputs.shape[1] != self.total_channels:
            raise ValueError(
                f'inputs have {inputs.shape[1]} channels but the layout '
                f'{self!r} (`{self.option}`) needs {self.total_channels}')
        return {n: inputs[:, self.channel_slice(n)] for n in self.names}

    # -- combinations -----------------------------------------------------
    def combinations(self) -> List[Combination]:
        """All 2^M - 1 combinations, largest first, then in layout order."""
        out = []
        for size in range(len(self.names), 0, -1):
            out.extend(_subsets(self.names, size))
        return out

    @property
    def full(self) -> Combination:
        """The combination of every modality."""
        return self.names

    def parse_combination(self, spec: CombinationSpec,
                          option: str = 'combination') -> Combination:
        """Parse ``'rgb+depth'`` or ``['depth', 'rgb']`` into layout order."""
        if isinstance(spec, str):
            parts = [p.strip() for p in spec.split('+')]
        else:
            parts = list(spec)
        parts = [p for p in parts if p]
        if not parts:
            raise ValueError(f'`{option}`: a combination needs at least one '
                             f'modality of {list(self.names)}, got {spec!r}')
        unknown = [p for p in parts if p not in self.names]
        if unknown:
            raise ValueError(f'`{option}`: unknown modality {unknown} in '
                             f'{spec!r}; known: {list(self.names)}')
        return tuple(n for n in self.names if n in parts)

    def parse_combinations(self, spec: Union[None, str, Iterable],
                           option: str = 'combinations') -> List[Combination]:
        """Parse a list of combinations.

        ``None`` or ``'all'`` give every combination; a string is split on
        commas or spaces (``'rgb,depth,rgb+depth'``); a list holds one spec
        per combination. Duplicates are removed, order is kept.
        """
        if spec is None or (isinstance(spec, str) and
                            spec.strip().lower() == 'all'):
            return self.combinations()
        if isinstance(spec, str):
            items = spec.replace(',', ' ').split()
        else:
            items = list(spec)
        if not items:
            raise ValueError(f'`{option}` is empty; give "all" or e.g. '
                             f'"{self.combination_name(self.full)}"')
        out: List[Combination] = []
        for item in items:
            combo = self.parse_combination(item, option)
            if combo not in out:
                out.append(combo)
        return out

    def combination_name(self, combo) -> str:
        """Name of a combination, a (M,) bool mask or a name sequence."""
        if isinstance(combo, torch.Tensor):
            if combo.shape != (len(self.names),):
                raise ValueError(f'mask of shape {tuple(combo.shape)} does '
                                 f'not match {len(self.names)} modalities')
            combo = [n for n, keep in zip(self.names, combo.tolist()) if keep]
        return '+'.join(self.parse_combination(combo))

    def combination_mask(self, combo: CombinationSpec) -> torch.Tensor:
        """(M,) bool mask of a combination."""
        combo = self.parse_combination(combo)
        return torch.tensor([n in combo for n in self.names])

    def channel_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Expand a modality mask (..., M) to a channel mask (..., C)."""
        repeats = torch.tensor(self.channels, device=mask.device)
        return mask.repeat_interleave(repeats, dim=-1)
