"""Ordered modality layout and modality combinations.

Shorthand: B batch, M modalities, C stacked channels (sum over modalities),
H x W spatial size, K combinations.

A *layout* is the ordered list of modalities a model sees, each with its channel
count (``rgb:3, depth:1``). The channels of a sample are stacked in layout order,
so ``inputs[:, layout.channel_slice('depth')]`` is the depth map. A *combination*
is a non-empty subset of the modalities, written in layout order and named by
joining the names with ``+`` (``rgb+depth``).

Each modality also has a *kind* that decides how it is loaded and augmented,
whatever its name:

- ``'colour'``: an 8-bit colour image (0..255, RGB order); bilinear
  interpolation; photometric distortion applies to it;
- ``'depth'``: a metric depth map (uint16 / float files -> metres, 0 = hole);
  nearest interpolation, so holes are never blended into their neighbours;
  no photometric distortion;
- ``'other'``: any other 8-bit map (HHA, IR, CASIA-SURF's 8-bit depth
  visualisation); bilinear interpolation; no photometric distortion.

The kinds of the well-known names are inferred (``rgb`` colour, ``depth``
depth, ``hha`` and ``ir`` other); any other name must declare its kind, in
the string form ``'rgb:3,thermal:1:other'``, the list form
``[('rgb', 3), ('thermal', 1, 'other')]`` or the dict form
``dict(rgb=3, thermal=dict(channels=1, kind='other'))``. The string and list
forms keep their order through an mmengine config dump (which sorts dict
keys), so prefer them for layouts whose order is not alphabetical.
"""
from itertools import combinations as _subsets
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch

Combination = Tuple[str, ...]
LayoutSpec = Union['ModalityLayout', str, Dict[str, Union[int, dict]],
                   Sequence[tuple]]

#: the modality kinds, see the module docstring
KINDS = ('colour', 'depth', 'other')
#: kinds inferred from well-known modality names
DEFAULT_KINDS = dict(rgb='colour', depth='depth', hha='other', ir='other')
CombinationSpec = Union[str, Sequence[str]]


class ModalityLayout:
    """The ordered modalities of a model and their channel counts.

    Args:
        modalities (str | dict | list[tuple] | ModalityLayout): the
            modalities in channel order: ``'rgb:3,depth:1'``,
            ``dict(rgb=3, depth=1)`` or ``[('rgb', 3), ('depth', 1)]``; a
            kind may follow the channels (``'ir:1:other'``,
            ``('ir', 1, 'other')``, ``dict(ir=dict(channels=1,
            kind='other'))``), see the module docstring.
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
        >>> ModalityLayout('rgb:3,thermal:1:other').kinds
        ('colour', 'other')
    """

    def __init__(self, modalities: LayoutSpec, option: str = 'modalities'):
        if modalities is None:
            raise ValueError(
                f'`{option}` is not set: give the modality layout (e.g. '
                'dict(rgb=3, depth=1)), or build the module inside a task '
                'model (MultiModalEncoderDecoder / MultiModalImageClassifier)'
                ', which hands it the layout of its data preprocessor')
        if isinstance(modalities, ModalityLayout):
            pairs = list(zip(modalities.names, modalities.channels,
                             modalities.declared_kinds))
        else:
            pairs = self._parse(modalities, option)
        if not pairs:
            raise ValueError(f'`{option}` is empty: give at least one '
                             'modality, e.g. "rgb:3,depth:1"')
        names = [p[0] for p in pairs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f'`{option}` names {dup} more than once')
        for name, ch, kind in pairs:
            if not isinstance(name, str) or not name or '+' in name \
                    or ',' in name or ':' in name:
                raise ValueError(f'`{option}`: invalid modality name '
                                 f'{name!r} (no "+", "," or ":" allowed)')
            if not isinstance(ch, int) or isinstance(ch, bool) or ch < 1:
                raise ValueError(f'`{option}`: modality {name!r} needs a '
                                 f'positive integer channel count, got {ch!r}')
            if kind is not None and kind not in KINDS:
                raise ValueError(f'`{option}`: modality {name!r} has kind '
                                 f'{kind!r}; the kinds are {list(KINDS)}')
        self.option = option
        self.names: Tuple[str, ...] = tuple(names)
        self.channels: Tuple[int, ...] = tuple(p[1] for p in pairs)
        #: kinds as given (None where left to the name)
        self.declared_kinds: Tuple[Optional[str], ...] = tuple(
            p[2] for p in pairs)

    @staticmethod
    def _parse(spec, option) -> List[Tuple[str, int, Optional[str]]]:
        """(name, channels, kind or None) triples of a layout spec."""
        if isinstance(spec, str):
            out = []
            for item in filter(None, (s.strip() for s in spec.split(','))):
                parts = [p.strip() for p in item.split(':')]
                if len(parts) not in (2, 3) or not parts[1].isdigit():
                    raise ValueError(
                        f'`{option}`: cannot parse {item!r} in {spec!r}; '
                        'expected "name:channels" or "name:channels:kind", '
                        'e.g. "rgb:3,depth:1,ir:1:other"')
                out.append((parts[0], int(parts[1]),
                            parts[2] if len(parts) == 3 else None))
            return out
        if isinstance(spec, dict):
            out = []
            for name, value in spec.items():
                if isinstance(value, dict):
                    extra = set(value) - {'channels', 'kind'}
                    if 'channels' not in value or extra:
                        raise ValueError(
                            f'`{option}`: modality {name!r} is {value!r}; '
                            'give dict(channels=C) or dict(channels=C, '
                            'kind=...)')
                    out.append((name, value['channels'], value.get('kind')))
                else:
                    out.append((name, value, None))
            return out
        try:
            items = [tuple(item) for item in spec]
        except TypeError:
            items = None
        if items is None or any(
                isinstance(item, str) or len(item) not in (2, 3)
                for item in items):
            raise TypeError(
                f'`{option}` must be a "name:channels[:kind]" string, a dict '
                'or a list of (name, channels[, kind]); got '
                f'{spec!r}')
        return [(i[0], i[1], i[2] if len(i) == 3 else None) for i in items]

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
            (self.names, self.channels, self._resolved_kinds()) == \
            (other.names, other.channels, other._resolved_kinds())

    def __hash__(self):
        return hash((self.names, self.channels))

    def spec(self) -> str:
        """The layout as its order-preserving string form, kinds written
        only where they differ from the name's default
        (``'rgb:3,depth:1,thermal:1:other'``)."""
        items = []
        for name, ch, kind in zip(self.names, self.channels,
                                  self.declared_kinds):
            if kind is None or kind == DEFAULT_KINDS.get(name):
                items.append(f'{name}:{ch}')
            else:
                items.append(f'{name}:{ch}:{kind}')
        return ','.join(items)

    def __repr__(self) -> str:
        return f"ModalityLayout('{self.spec()}')"

    # -- kinds ------------------------------------------------------------
    def _resolved_kinds(self) -> Tuple[Optional[str], ...]:
        return tuple(k if k is not None else DEFAULT_KINDS.get(n)
                     for n, k in zip(self.names, self.declared_kinds))

    def kind(self, name: str) -> str:
        """Kind of modality ``name`` (``'colour'``, ``'depth'`` or
        ``'other'``): declared, or inferred from a well-known name."""
        kind = self._resolved_kinds()[self.index(name)]
        if kind is None:
            ch = self.channels[self.index(name)]
            raise ValueError(
                f'`{self.option}`: modality {name!r} has no kind and its name '
                f'is not one of {sorted(DEFAULT_KINDS)}; declare it, e.g. '
                f'"{name}:{ch}:other" or dict({name}=dict(channels={ch}, '
                f"kind='other')); kinds: {list(KINDS)}")
        return kind

    @property
    def kinds(self) -> Tuple[str, ...]:
        """Kind of every modality in layout order (see :meth:`kind`)."""
        return tuple(self.kind(n) for n in self.names)

    def names_of_kind(self, kind: str) -> Tuple[str, ...]:
        """The modalities of one kind, in layout order."""
        if kind not in KINDS:
            raise ValueError(f'unknown modality kind {kind!r}; the kinds are '
                             f'{list(KINDS)}')
        return tuple(n for n, k in zip(self.names, self.kinds) if k == kind)

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
