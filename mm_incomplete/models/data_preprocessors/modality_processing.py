"""Per-modality normalisation, RGB channel order and the modality mask.

Shorthand: B batch, M modalities, C stacked channels (sum of C_m), H x W.

Shared by the segmentation and classification data preprocessors. The host
preprocessors normalise with one mean/std over all channels and swap BGR/RGB
only when C == 3 (silently doing nothing for RGB-D); here each modality gets
its own statistics and only the channels of the RGB modality are swapped.
"""
from numbers import Number
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn

from mm_incomplete.modality import (MASK_FIELD, ModalityLayout, build_sampler,
                                    set_modality_masks)


def _per_channel(values, layout: ModalityLayout, option: str):
    """Flatten ``{name: number | [C_m numbers]}`` into C numbers."""
    if not isinstance(values, dict):
        raise TypeError(f'`{option}` must be a dict {{modality: [values]}}, '
                        f'e.g. dict(rgb=[123.7, 116.3, 103.5], depth=[2.8]); '
                        f'got {values!r}')
    unknown = sorted(set(values) - set(layout.names))
    missing = [n for n in layout.names if n not in values]
    if unknown or missing:
        raise ValueError(f'`{option}` must give every modality of {layout!r}'
                         f': unknown {unknown}, missing {missing}')
    out = []
    for name, ch in zip(layout.names, layout.channels):
        v = values[name]
        v = [v] * ch if isinstance(v, Number) else list(v)
        if len(v) != ch:
            raise ValueError(f'`{option}.{name}` needs {ch} values (one per '
                             f'channel), got {len(v)}')
        out += [float(x) for x in v]
    return out


class ModalityProcessingMixin:
    """Per-modality preprocessing for a host ``BaseDataPreprocessor``.

    Call :meth:`_init_modalities` in ``__init__`` (after the host's
    ``__init__``), :meth:`_normalize_inputs` before the host pads/stacks and
    :meth:`_apply_modality_mask` on the stacked batch.
    """

    def _init_modalities(self, modalities, mean: Optional[dict],
                         std: Optional[dict], bgr_to_rgb: bool,
                         rgb_to_bgr: bool, rgb_modality: str, train_sampler,
                         test_combination) -> None:
        if modalities is None:
            raise ValueError(
                '`data_preprocessor.modalities` is not set: declare the '
                "model's modality layout there, e.g. modalities=dict(rgb=3, "
                "depth=1) (our configs give it the dataset base's "
                '`modalities`)')
        self.layout = ModalityLayout(modalities,
                                     'data_preprocessor.modalities')
        if (mean is None) != (std is None):
            raise ValueError('data_preprocessor: give both `mean` and `std` '
                             '(dicts per modality) or neither')
        self._enable_modality_normalize = mean is not None
        if mean is not None:
            std_values = _per_channel(std, self.layout,
                                      'data_preprocessor.std')
            if any(s <= 0 for s in std_values):
                raise ValueError(f'data_preprocessor.std must be positive, '
                                 f'got {std}')
            self.register_buffer(
                'modality_mean',
                torch.tensor(_per_channel(mean, self.layout,
                                          'data_preprocessor.mean')).view(
                                              -1, 1, 1), False)
            self.register_buffer('modality_std',
                                 torch.tensor(std_values).view(-1, 1, 1),
                                 False)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('data_preprocessor: `bgr_to_rgb` and '
                             '`rgb_to_bgr` cannot both be True')
        self.swap_rgb = bool(bgr_to_rgb or rgb_to_bgr)
        if self.swap_rgb:
            if rgb_modality not in self.layout.names or \
                    self.layout.channels[self.layout.index(rgb_modality)] != 3:
                raise ValueError(
                    f'data_preprocessor: channel swap asked but '
                    f'`rgb_modality`={rgb_modality!r} is not a 3-channel '
                    f'modality of {self.layout!r}')
            sl = self.layout.channel_slice(rgb_modality)
            order = list(range(self.layout.total_channels))
            order[sl] = order[sl][::-1]
            self._channel_order = order
        self.rgb_modality = rgb_modality
        self.train_sampler = build_sampler(train_sampler)
        self.test_combination = test_combination

    # -- the evaluation combination ---------------------------------------
    @property
    def test_combination(self) -> tuple:
        """Combination set in eval mode (tuple of names); settable from a
        name such as ``'rgb'`` / ``'rgb+depth'`` or ``None`` (full)."""
        return self._test_combination

    @test_combination.setter
    def test_combination(self, spec) -> None:
        self._test_combination = self.layout.full if spec is None else \
            self.layout.parse_combination(
                spec, 'data_preprocessor.test_combination')

    # -- steps ----------------------------------------------------------------
    def _check_channels(self, c: int) -> None:
        if c != self.layout.total_channels:
            raise ValueError(
                f'inputs have {c} channels but data_preprocessor.modalities '
                f'{self.layout!r} needs {self.layout.total_channels}')

    def _normalize_one(self, x: torch.Tensor) -> torch.Tensor:
        """x (C, H, W) or (B, C, H, W) -> float, swapped, normalised."""
        cdim = x.dim() - 3
        self._check_channels(x.shape[cdim])
        if self.swap_rgb:
            x = x[:, self._channel_order] if cdim else x[self._channel_order]
        x = x.float()
        if self._enable_modality_normalize:
            x = (x - self.modality_mean) / self.modality_std
        return x

    def _normalize_inputs(self, inputs: Union[torch.Tensor,
                                              List[torch.Tensor]]):
        """Channel order + per-modality normalisation of a list of (C, H, W)
        or a stacked (B, C, H, W) batch."""
        if isinstance(inputs, torch.Tensor):
            return self._normalize_one(inputs)
        return [self._normalize_one(x) for x in inputs]

    def _check_sample_layout(self, data_samples: Optional[Sequence]) -> None:
        """Samples name their modalities (``metainfo['modalities']``, written
        by the loading transform): they must be the layout's, in its order
        and with its channel counts, or channels would silently be read as
        another modality (``depth, rgb`` vs ``rgb, depth``, ``hha`` for
        ``depth``)."""
        for b, sample in enumerate(data_samples or []):
            meta = getattr(sample, 'metainfo', {})
            names = meta.get('modalities')
            if names is None:
                continue
            chans = meta.get('modality_channels', self.layout.channels)
            if tuple(names) != self.layout.names or \
                    tuple(chans) != self.layout.channels:
                got = ','.join(f'{n}:{c}' for n, c in zip(names, chans))
                raise ValueError(
                    f'sample {b} ({meta.get("img_path", "?")}) holds the '
                    f'modalities {got!r}, but data_preprocessor.modalities is'
                    f' {self.layout!r}: the data pipeline and the model must '
                    'use the same layout (names, order and channels)')

    def _apply_modality_mask(self, inputs: torch.Tensor,
                             data_samples: Optional[Sequence],
                             training: bool) -> torch.Tensor:
        """Set the (B, M) mask on the samples and zero masked channels.

        Training draws the mask with ``train_sampler``, evaluation uses
        ``test_combination``; samples that already carry a ``modality_mask``
        keep it. This is the one place a batch's mask is drawn and checked
        (shape, one modality per sample at least). It stays on the host: the
        samples carry CPU rows, and the model moves the stacked mask to the
        device once, without waiting, while every decision that depends on
        it (which branch, which rows) is taken on the host. The samples'
        modality names are checked against the layout first.
        """
        self._check_sample_layout(data_samples)
        batch = inputs.shape[0]
        if training:
            mask = self.train_sampler(batch, self.layout)
        else:
            mask = self.layout.combination_mask(
                self.test_combination).expand(batch, -1)
        mask = mask.to('cpu', torch.bool).clone()
        if data_samples is not None:
            for b, sample in enumerate(data_samples):
                own = sample.get(MASK_FIELD, None)
                if own is not None:
                    if own.numel() != len(self.layout):
                        raise ValueError(
                            f'sample {b} carries a modality_mask of '
                            f'{own.numel()} entries; data_preprocessor.'
                            f'modalities {self.layout!r} has '
                            f'{len(self.layout)}')
                    # evaluation copies carry their own rows (a copy to
                    # the host where they were moved to the device)
                    mask[b] = own.to('cpu', torch.bool)
        empty = (~mask.any(1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(
                f'the modality mask keeps no modality of {self.layout!r} for '
                f'samples {empty} (train_sampler / the samples\' own '
                'modality_mask)')
        if data_samples is not None:
            set_modality_masks(data_samples, mask)
        if not bool(mask.all()):
            keep = self.layout.channel_mask(mask)[:, :, None, None]
            inputs = inputs.masked_fill(
                ~keep.to(inputs.device, non_blocking=True), 0)
        return inputs


def build_batch_augments(cfgs: Optional[Sequence[dict]], registry):
    """Build a list of batch augmentations ``aug(inputs, data_samples) ->
    (inputs, data_samples)`` from configs (``None`` -> ``None``)."""
    if not cfgs:
        return None
    augs = [registry.build(c) if isinstance(c, dict) else c for c in cfgs]
    modules = [a for a in augs if isinstance(a, nn.Module)]
    return nn.ModuleList(modules) if len(modules) == len(augs) else augs
