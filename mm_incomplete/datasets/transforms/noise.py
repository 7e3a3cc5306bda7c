"""UDML's noise injection: a random corruption level per sample and
modality, drawn on every load, recorded for the loss.

Shorthand: H x W spatial size, C stacked channels, l a noise level in
1..max_level (1 = clean).

For every modality m (independently) a level l_m is drawn each time a
sample is loaded: with probability ``clean_prob`` l_m = 1, otherwise a
uniform integer in 1..max_level (release: half clean, 1..11). Then

- 8-bit modalities (RGB, HHA, IR; 0..255): x + N(0, (l^2)^2), clipped to
  0..255; l = max_level replaces the image by uniform noise in 0..255;
- ``relative_modalities`` (depth in metres): the analogous relative noise,
  x * (1 + N(0, (l^2 / 255)^2)) (the same fraction of the signal as l^2 is
  of RGB's range), clipped at 0, invalid pixels (0) kept at 0; l =
  max_level replaces the valid pixels by uniform noise between their
  minimum and maximum.

l = 1 leaves the modality untouched (std 1 on 0..255 would still corrupt
it slightly; the release's level 1 is its "clean" label, so clean it is).
The levels go to ``results['noise_level']`` = ``{modality: l}`` (packed into
the sample's metainfo), where :class:`UDMLLoss` reads them.

Randomness comes from a ``numpy.random.Generator`` the transform owns,
never numpy's, Python's or torch's global generators. ``enabled`` lives in
shared memory, so dataloader workers see a switch made in the main process
(after the batches they had already prefetched). In a dataloader
worker it is re-derived from (seed, the worker's torch seed), which differs
per worker and per epoch, so workers never repeat each other's draws.
"""
import copy
import multiprocessing
from typing import Dict, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiModalNoiseInjection(BaseTransform):
    """Per-sample, per-modality random noise with its level recorded.

    Args:
        modalities (Sequence[str]): the modalities to corrupt (others get
            level 1).
        max_level (int): largest level (release 11); at it the modality is
            replaced by noise.
        clean_prob (float): probability of level 1 (release 0.5).
        relative_modalities (Sequence[str]): modalities in physical units
            (depth) that get relative noise.
        fixed_levels (dict, optional): ``{modality: l}`` fixed levels
            (evaluation at a given noise level); the others are drawn.
        enabled (bool): False: nothing is corrupted and every level is 1
            (the clean phase; :class:`UDMLSwitchHook` switches it).
        seed (int, optional): seed of the own generator.

    Example:
        >>> import numpy as np
        >>> t = MultiModalNoiseInjection(['rgb'], fixed_levels=dict(rgb=5),
        ...                              seed=0)
        >>> r = dict(img=np.full((4, 4, 4), 100, np.float32),
        ...          modalities=('rgb', 'depth'), modality_channels=(3, 1))
        >>> out = t(r)
        >>> out['noise_level'], bool((out['img'][..., 3] == 100).all())
        ({'rgb': 5, 'depth': 1}, True)
    """

    def __init__(self, modalities: Sequence[str] = ('rgb', 'depth'),
                 max_level: int = 11, clean_prob: float = 0.5,
                 relative_modalities: Sequence[str] = ('depth', ),
                 fixed_levels: Optional[Dict[str, int]] = None,
                 enabled: bool = True, seed: Optional[int] = None):
        if max_level < 2:
            raise ValueError(f'MultiModalNoiseInjection.max_level must be '
                             f'>= 2, got {max_level}')
        if not 0 <= clean_prob <= 1:
            raise ValueError(f'MultiModalNoiseInjection.clean_prob must be '
                             f'in [0, 1], got {clean_prob}')
        self.modalities = tuple(modalities)
        self.max_level = int(max_level)
        self.clean_prob = float(clean_prob)
        self.relative = tuple(relative_modalities)
        self.fixed_levels = dict(fixed_levels or {})
        for name, level in self.fixed_levels.items():
            if name not in self.modalities or \
                    not 1 <= int(level) <= self.max_level:
                raise ValueError(
                    f'MultiModalNoiseInjection.fixed_levels[{name!r}] = '
                    f'{level!r}: the modality must be in {self.modalities} '
                    f'and the level in 1..{self.max_level}')
        # shared memory: dataloader workers (forked before the switch) see
        # the switch made in the main process a few prefetched batches later
        self._enabled = multiprocessing.RawValue('b', bool(enabled))
        self.seed = np.random.SeedSequence(seed).entropy
        self.rng = np.random.default_rng(self.seed)
        self._worker_seed = None

    @property
    def enabled(self) -> bool:
        return bool(self._enabled.value)

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled.value = bool(value)

    def __deepcopy__(self, memo):
        new = copy.copy(self)
        new._enabled = multiprocessing.RawValue('b', self.enabled)
        new.rng = copy.deepcopy(self.rng, memo)
        new.fixed_levels = dict(self.fixed_levels)
        return new

    def _generator(self) -> np.random.Generator:
        import torch.utils.data as tud
        info = tud.get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            self._worker_seed = info.seed
            self.rng = np.random.default_rng([self.seed, info.seed])
        return self.rng

    def draw_level(self, name: str, rng: np.random.Generator) -> int:
        """l of one modality of one sample (always draws, keeping the
        stream aligned whatever is fixed or disabled)."""
        clean = rng.random() < self.clean_prob
        level = int(rng.integers(1, self.max_level + 1))
        if name in self.fixed_levels:
            return int(self.fixed_levels[name])
        if not self.enabled or clean:
            return 1
        return level

    def corrupt(self, x: np.ndarray, name: str, level: int,
                rng: np.random.Generator) -> np.ndarray:
        """Noise of ``level`` on one modality's (H, W, C_m) channels."""
        if level == 1:
            return x
        if name in self.relative:
            valid = x > 0
            if level >= self.max_level:
                vals = x[valid]
                low, high = (float(vals.min()), float(vals.max())) \
                    if vals.size else (0.0, 0.0)
                noise = rng.uniform(low, high, x.shape).astype(x.dtype)
                return np.where(valid, noise, x)
            rel = rng.normal(0, level**2 / 255.0, x.shape)
            return np.where(valid, np.clip(x * (1 + rel), 0, None),
                            x).astype(x.dtype)
        if level >= self.max_level:
            return rng.uniform(0, 255, x.shape).astype(x.dtype)
        noisy = x + rng.normal(0, float(level**2), x.shape)
        return np.clip(noisy, 0, 255).astype(x.dtype)

    def transform(self, results: dict) -> dict:
        names = results.get('modalities')
        chans = results.get('modality_channels')
        if names is None or chans is None:
            raise KeyError('MultiModalNoiseInjection needs `modalities` and '
                           '`modality_channels` in results (put it after '
                           'LoadMultiModalImages)')
        missing = [n for n in self.modalities if n not in names]
        if missing:
            raise KeyError(f'MultiModalNoiseInjection.modalities {missing} '
                           f'are not in the sample\'s {tuple(names)}')
        rng = self._generator()
        img = results['img']
        levels, start = {}, 0
        for name, ch in zip(names, chans):
            if name in self.modalities:
                level = self.draw_level(name, rng)
                if level > 1:
                    img[..., start:start + ch] = self.corrupt(
                        img[..., start:start + ch], name, level, rng)
            else:
                level = 1
            levels[name] = level
            start += ch
        results['img'] = img
        results['noise_level'] = levels
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'max_level={self.max_level}, clean_prob={self.clean_prob}, '
                f'fixed_levels={self.fixed_levels}, enabled={self.enabled})')
