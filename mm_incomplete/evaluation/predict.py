"""Predict one batch under every modality combination.

Shorthand: B batch, M modalities, C stacked channels, K combinations.

Two ways, same predictions:

- **shared** (default where the model has ``predict_combinations``): the
  batch goes through the model's data preprocessor once, then
  ``model.predict_combinations(inputs (B, C, H, W), data_samples, names)``
  runs what does not depend on the mask (each modality's encoder) once and
  fusion + decoding once per combination;
- **separate** (``reuse=False``, or models without ``predict_combinations``,
  e.g. a TTA wrapper): one full ``val_step`` / ``test_step`` per
  combination, on copies of the samples carrying that combination's
  ``modality_mask``. This is what K separate single-combination runs do.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import is_model_wrapper

from mm_incomplete.modality import (MASK_FIELD, Combination, ModalityLayout,
                                    set_modality_masks)


def unwrap(model):
    """The model inside DDP / FSDP-style wrappers (not inside TTA models)."""
    return model.module if is_model_wrapper(model) else model


def find_layout(model) -> Optional[ModalityLayout]:
    """The model's :class:`ModalityLayout`, or None.

    Looked up on the data preprocessor (``.layout``), then the backbone, then
    the model itself, through wrappers and TTA models (``.module``).
    """
    seen = set()
    while model is not None and id(model) not in seen:
        seen.add(id(model))
        for owner in (getattr(model, 'data_preprocessor', None),
                      getattr(model, 'backbone', None), model):
            layout = getattr(owner, 'layout', None)
            if layout is not None:
                return ModalityLayout(layout)
        model = getattr(model, 'module', None)
    return None


def _map_samples(samples, fn):
    """Apply ``fn`` to each flat list of samples in a (nested, TTA) list."""
    if isinstance(samples, (list, tuple)) and samples and \
            isinstance(samples[0], (list, tuple)):
        return [_map_samples(s, fn) for s in samples]
    return fn(list(samples))


def _clone_inputs(inputs):
    if isinstance(inputs, torch.Tensor):
        return inputs.clone()
    if isinstance(inputs, (list, tuple)):
        return [_clone_inputs(x) for x in inputs]
    return inputs


def fill_full_masks(data_batch: dict, layout: ModalityLayout) -> None:
    """Give every sample without a ``modality_mask`` the full mask (in place).

    So the data preprocessor's own evaluation combination
    (``test_combination``) cannot zero a modality before the combinations
    are applied.
    """

    def fill(samples):
        for s in samples:
            if s.get(MASK_FIELD, None) is None:
                s.set_field(torch.ones(len(layout), dtype=torch.bool),
                            MASK_FIELD, field_type='data')
        return samples

    if data_batch.get('data_samples') is not None:
        _map_samples(data_batch['data_samples'], fill)


def batch_with_combination(data_batch: dict, layout: ModalityLayout,
                           combination: Combination) -> dict:
    """A copy of ``data_batch`` whose samples carry ``combination``'s mask.

    The inputs are cloned and the samples copied, so the data preprocessor
    can work in place without touching the loader's batch.
    """
    mask = layout.combination_mask(combination)

    def with_mask(samples):
        samples = [s.clone() for s in samples]
        set_modality_masks(samples, mask.expand(len(samples), -1))
        return samples

    out = dict(data_batch)
    out['inputs'] = _clone_inputs(data_batch['inputs'])
    if data_batch.get('data_samples') is None:
        raise ValueError('every-combination evaluation needs data samples '
                         'to carry the modality mask; the batch has none')
    out['data_samples'] = _map_samples(data_batch['data_samples'], with_mask)
    return out


def predict_every_combination(model,
                              data_batch: dict,
                              layout: ModalityLayout,
                              combinations: Sequence[Combination],
                              reuse: bool = True,
                              mode: str = 'test') -> Dict[str, List]:
    """Predictions of one batch under each combination.

    Args:
        model (nn.Module): the runner's model (wrappers allowed).
        data_batch (dict): a batch from the dataloader (``inputs``: list of
            (C, H, W) tensors, ``data_samples``).
        layout (ModalityLayout): the model's modalities.
        combinations (list[tuple[str]]): the combinations, in report order.
        reuse (bool): use ``predict_combinations`` where the model has it.
        mode (str): ``'val'`` or ``'test'``: which step the separate path
            calls (``val_step`` / ``test_step``).

    Returns:
        dict[str, list]: ``{combination name: outputs}`` in the order of
        ``combinations``; each list holds distinct sample objects.

    Example:
        >>> # see tests/test_evaluation/test_loops.py for a runnable model
    """
    names = [layout.combination_name(c) for c in combinations]
    core = unwrap(model)
    if reuse and callable(getattr(core, 'predict_combinations', None)):
        fill_full_masks(data_batch, layout)
        data = core.data_preprocessor(data_batch, False)
        raw = core.predict_combinations(data['inputs'],
                                        data.get('data_samples'), names)
        results = {layout.combination_name(k): v for k, v in raw.items()}
        missing = [n for n in names if n not in results]
        if missing:
            raise RuntimeError(
                f'{type(core).__name__}.predict_combinations returned no '
                f'predictions for {missing} (got {list(results)})')
        results = {n: results[n] for n in names}
        _check_distinct(results, type(core).__name__)
        return results
    step = model.val_step if mode == 'val' else model.test_step
    return {
        name: step(batch_with_combination(data_batch, layout, combo))
        for name, combo in zip(names, combinations)
    }


def _check_distinct(results: Dict[str, List], model_name: str) -> None:
    """Each combination must own its sample objects (evaluators read them)."""
    seen = {}
    for name, samples in results.items():
        for s in samples:
            other = seen.setdefault(id(s), name)
            if other != name:
                raise RuntimeError(
                    f'{model_name}.predict_combinations returned the same '
                    f'data sample object for "{other}" and "{name}"; each '
                    'combination needs its own copies')
