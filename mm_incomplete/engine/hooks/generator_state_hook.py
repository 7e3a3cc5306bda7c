"""Save and restore every random generator a training step draws from.

Shorthand: none (generator states are opaque byte tensors and integers).

A resumed run repeats an uninterrupted one bit for bit only if every generator
a training step draws from continues where it stopped. mmengine's resume only
re-seeds the global generators from the config's seed, so after a resume the
modality masks, the data transforms of the main process (``num_workers=0``)
and the model's noise (dropout, DMRNet's sampled embeddings) are drawn anew.
This hook saves, in every checkpoint (``checkpoint['generator_states']``):

- torch's CPU generator (and every CUDA device's), numpy's and Python's
  global generators;
- the own generator of every modality sampler
  (:class:`~mm_incomplete.modality.sampling.CombinationSampler` with a
  ``seed``, e.g. the data preprocessor's ``train_sampler``) and every
  ``torch.Generator`` held by a module of the model.

On resume they are restored right before the first new batch is fetched,
i.e. after mmengine's loop has re-read the batches it skips (which, without
workers, draws from the global generators). Data loader workers are seeded by
mmengine from the seed, the rank and the worker id, and the samplers' order
from the seed and the epoch, so the skipped batches replay them exactly.
With several processes the checkpoint (written by rank 0) holds rank 0's
states; they are every rank's states unless ``randomness.diff_rank_seed`` is
set, in which case the resumed run warns that it is not exact.
Validation runs between a save and the next batch, and creating its data
loader iterator draws from torch's generator, so the hook also makes
validation leave the training stream untouched (states are taken in
``before_val`` and put back in ``after_val``); a checkpoint saved during
validation (``best_*.pth``) holds the states of the training stream.
"""
import random
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from mm_incomplete.modality.sampling import CombinationSampler

STATE_KEY = 'generator_states'


def _named_generators(model) -> Dict[str, object]:
    """``{'data_preprocessor.train_sampler': sampler, ...}`` of a model."""
    model = getattr(model, 'module', model)
    out = {}
    for mod_name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, (CombinationSampler, torch.Generator)):
                out[f'{mod_name}.{attr}' if mod_name else attr] = value
    return out


def capture_generator_states(model=None) -> dict:
    """The states of the global generators and of the model's own ones.

    Example:
        >>> state = capture_generator_states()
        >>> a = torch.rand(2); restore_generator_states(state)
        >>> torch.equal(a, torch.rand(2))
        True
    """
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state = dict(
        torch=torch.get_rng_state(),
        numpy=dict(kind=kind, key=torch.from_numpy(key.astype(np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(gauss)),
        python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    if model is not None:
        owned = {}
        for name, gen in _named_generators(model).items():
            owned[name] = gen.get_state() if isinstance(
                gen, torch.Generator) else gen.state_dict()
        state['model'] = owned
    return state


def restore_generator_states(state: dict, model=None,
                             source: str = 'checkpoint') -> None:
    """Put back what :func:`capture_generator_states` took.

    Args:
        state (dict): the captured states.
        model (nn.Module, optional): restore its own generators too; a
            generator of the model that ``state`` does not hold is an error
            naming it (the resumed draws would differ).
        source (str): where ``state`` came from, for error messages.
    """
    torch.set_rng_state(state['torch'])
    np_state = state['numpy']
    np.random.set_state((np_state['kind'],
                         np_state['key'].numpy().astype(np.uint32),
                         np_state['pos'], np_state['has_gauss'],
                         np_state['cached_gaussian']))
    python = state['python']
    random.setstate((python[0], tuple(python[1]), python[2]))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
    if model is None:
        return
    saved = state.get('model', {})
    for name, gen in _named_generators(model).items():
        if isinstance(gen, CombinationSampler) and gen.seed is None:
            continue  # draws from torch's global generator, restored above
        if name not in saved:
            raise KeyError(f'{source} holds no state of the generator '
                           f'{name!r} of the model (it holds '
                           f'{sorted(saved)}); a resumed run would draw '
                           'other numbers than the interrupted one')
        if isinstance(gen, torch.Generator):
            gen.set_state(saved[name])
        else:
            gen.load_state_dict(saved[name])


class _RestoreBeforeNextBatch:
    """Wraps a train loop's data iterator: after ``skip`` batches (the ones
    mmengine re-reads on resume), restore the generators, then step aside."""

    def __init__(self, loop, skip: int, restore):
        self._loop, self._inner = loop, loop.dataloader_iterator
        self._skip, self._restore = skip, restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0:
            self._restore()
            self._loop.dataloader_iterator = self._inner
            return next(self._inner)
        self._skip -= 1
        return next(self._inner)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@HOOKS.register_module()
class GeneratorStateHook(Hook):
    """Save every generator in checkpoints and restore them on resume.

    ``MultiModalRunner`` adds this hook to every run; add it by hand
    (``custom_hooks=[dict(type='GeneratorStateHook')]``) with mmengine's own
    runner.

    Example:
        >>> custom_hooks = [dict(type='GeneratorStateHook')]
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self._loaded: Optional[dict] = None
        self._source = 'checkpoint'
        self._before_val: Optional[dict] = None

    # -- saving -------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = self._before_val if \
            self._before_val is not None else \
            capture_generator_states(runner.model)

    def before_val(self, runner) -> None:
        if self._in_training(runner):
            self._before_val = capture_generator_states(runner.model)

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_generator_states(self._before_val, runner.model,
                                     'the state before validation')
            self._before_val = None

    @staticmethod
    def _in_training(runner) -> bool:
        loop = getattr(runner, '_train_loop', None)
        return loop is not None and not isinstance(loop, dict)

    # -- resuming -----------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(STATE_KEY)
        self._source = getattr(runner, 'checkpoint_source', 'the checkpoint')

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        resumed = loop.iter > 0 or loop.epoch > 0
        loaded, self._loaded = self._loaded, None
        if not resumed:
            return
        if loaded is None:
            print_log(
                f'{self._source} holds no generator states (written before '
                'they were saved): the resumed run draws other modality '
                'masks, augmentations and noise than an uninterrupted one '
                'would', 'current', 30)
            return

        if runner.world_size > 1 and getattr(
                runner, '_randomness_cfg', {}).get('diff_rank_seed', False):
            print_log(
                'randomness.diff_rank_seed: the checkpoint holds rank 0\'s '
                'generator states only, so the ranks keep their re-seeded '
                'generators and the resumed run is not bit-exact',
                'current', 30)
            return

        def restore():
            restore_generator_states(loaded, runner.model, self._source)

        skip = getattr(loop, 'iter', 0) if hasattr(
            loop, 'dataloader_iterator') else 0
        if skip:
            loop.dataloader_iterator = _RestoreBeforeNextBatch(
                loop, skip, restore)
        else:
            restore()
