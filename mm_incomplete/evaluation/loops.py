"""Val / test loops that evaluate every modality combination in one pass.

Shorthand: B batch, M modalities, K combinations, N samples.

Each batch is loaded once; the model predicts it under the K combinations
(reusing what does not depend on the mask, see :mod:`.predict`) and each
combination's predictions go to its own copy of the host evaluator. The loop
reports

- a table in the log (rows: combinations + mean, cols: host metrics);
- the metrics dict ``{'rgb/mIoU', 'depth/mIoU', 'rgb+depth/mIoU',
  'mean/mIoU', ...}`` (every host key, e.g. ``accuracy/top1`` ->
  ``rgb/accuracy/top1``), so ``save_best='mean/mIoU'`` works;
- ``<log_dir>/combination_metrics_<stage>[_epoch_E | _iter_I].json``
  (``log_dir`` = ``<work_dir>/<timestamp>``; schema in
  :func:`.combination_metrics.make_record`).

Hooks are called as mmengine's ``ValLoop`` / ``TestLoop`` call them;
``after_*_iter`` receives the outputs of the *report* combination (the full
one when evaluated, else the first), so visualisation hooks keep working;
the outputs of every combination of the current batch are in
``loop.combination_outputs`` (``{name: samples}``).
"""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import Evaluator
from mmengine.logging import HistoryBuffer, print_log
from mmengine.registry import LOOPS
from mmengine.runner.amp import autocast
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import (EpochBasedTrainLoop, _parse_losses,
                                   _update_losses)
from torch.utils.data import DataLoader

from mm_incomplete.modality import ModalityLayout
from mm_incomplete.models.utils import selection_state
from .combination_evaluator import CombinationEvaluator
from .combination_metrics import (dump_record, flatten_metrics,
                                  format_table, make_record, with_mean)
from .predict import find_layout, predict_every_combination, unwrap


class _MultiCombinationLoop(BaseLoop):
    """Shared body of the val and test loops (``stage`` = 'val' / 'test')."""

    stage = 'val'

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 combinations: Union[str, Sequence, None] = 'all',
                 modalities=None,
                 reuse: bool = True,
                 save_json: bool = True,
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader)
        option = f'{self.stage}_cfg.combinations'
        model_layout = find_layout(runner.model)
        if modalities is not None:
            self.layout = ModalityLayout(modalities,
                                         f'{self.stage}_cfg.modalities')
            if model_layout is not None and model_layout != self.layout:
                raise ValueError(
                    f'{self.stage}_cfg.modalities {self.layout!r} differ '
                    f'from the model\'s {model_layout!r}; leave it unset')
        else:
            self.layout = model_layout
            if self.layout is None:
                raise ValueError(
                    f'{type(self).__name__} cannot find the modality layout '
                    f'of {type(unwrap(runner.model)).__name__}: its data '
                    'preprocessor or backbone needs a `layout` attribute, or '
                    f'set `{self.stage}_cfg.modalities`, e.g. '
                    'dict(rgb=3, depth=1)')
        self.combinations = self.layout.parse_combinations(combinations,
                                                           option)
        self.names = [self.layout.combination_name(c)
                      for c in self.combinations]
        full = self.layout.combination_name(self.layout.full)
        self.report_name = full if full in self.names else self.names[0]
        self.reuse = reuse
        self.save_json = save_json
        self.fp16 = fp16
        if evaluator is None:
            raise ValueError(f'{type(self).__name__} needs an evaluator '
                             f'(`{self.stage}_evaluator`)')
        self.evaluators = CombinationEvaluator(evaluator, self.names,
                                               runner.build_evaluator)
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.evaluators.dataset_meta = self.dataloader.dataset.metainfo
            self.runner.visualizer.dataset_meta = \
                self.dataloader.dataset.metainfo
        self.losses: Dict[str, HistoryBuffer] = dict()
        self.combination_outputs: Dict[str, list] = dict()
        self.last_json: Optional[str] = None

    @property
    def evaluator(self) -> Evaluator:
        """The report combination's evaluator (``runner.val_evaluator``)."""
        return self.evaluators[self.report_name]

    def run(self) -> dict:
        """Evaluate every combination; returns the flat metrics dict."""
        stage = self.stage
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        self.losses.clear()
        start = time.perf_counter()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        per_combination = with_mean(
            self.evaluators.evaluate(len(self.dataloader.dataset)))
        print_log(
            f'{stage} metrics per modality combination '
            f'({len(self.names)} combinations, '
            f'{time.perf_counter() - start:.1f} s):\n'
            + format_table(per_combination), logger='current')
        state = self.method_state()
        if state:
            print_log(f'mined method state of the evaluated model: {state}',
                      logger='current')
        metrics = flatten_metrics(per_combination)
        if self.losses:
            metrics.update(_parse_losses(self.losses, stage))
        if self.save_json and is_main_process():
            self.last_json = self._write_json(per_combination)
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        """Predict one batch under every combination and feed evaluators."""
        stage = self.stage
        self.runner.call_hook(
            f'before_{stage}_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            results = predict_every_combination(
                self.runner.model, data_batch, self.layout,
                self.combinations, reuse=self.reuse, mode=stage)
        # hooks that draw every combination read this (see
        # mm_incomplete.visualization.CombinationVisualizationHook)
        self.combination_outputs = results
        report = None
        for name, outputs in results.items():
            if name == self.report_name:
                outputs, self.losses = _update_losses(outputs, self.losses)
                report = outputs
            else:
                outputs, _ = _update_losses(outputs, {})
            self.evaluators.process(name, outputs, data_batch)
        self.runner.call_hook(
            f'after_{stage}_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=report)

    # -- JSON -------------------------------------------------------------
    def _progress(self) -> Dict[str, int]:
        train_loop = getattr(self.runner, '_train_loop', None)
        if self.stage == 'val' and isinstance(train_loop, BaseLoop):
            if isinstance(train_loop, EpochBasedTrainLoop):
                return {'epoch': self.runner.epoch}
            return {'iter': self.runner.iter}
        return {}

    def json_path(self) -> str:
        """``<log_dir>/combination_metrics_<stage>[_epoch_E|_iter_I].json``."""
        tag = ''.join(f'_{k}_{v}' for k, v in self._progress().items())
        return osp.join(self.runner.log_dir,
                        f'combination_metrics_{self.stage}{tag}.json')

    def method_state(self) -> dict:
        """What the evaluated model's methods mined (selected combinations,
        restored from the checkpoint), reported with the metrics."""
        return selection_state(unwrap(self.runner.model))

    def _write_json(self, per_combination) -> str:
        runner = self.runner
        cfg = getattr(runner, 'cfg', None)
        record = make_record(
            per_combination,
            self.stage,
            modalities=dict(zip(self.layout.names, self.layout.channels)),
            model=type(unwrap(runner.model)).__name__,
            config=getattr(cfg, 'filename', None),
            experiment=runner.experiment_name,
            checkpoint=cfg.get('load_from') if cfg is not None else None,
            num_samples=len(self.dataloader.dataset),
            report_combination=self.report_name,
            timestamp=runner.timestamp,
            method_state=self.method_state(),
            **self._progress())
        path = dump_record(record, self.json_path())
        print_log(f'per-combination metrics written to {path}',
                  logger='current')
        return path


@LOOPS.register_module()
class MultiCombinationValLoop(_MultiCombinationLoop):
    """Validation over every modality combination in one pass.

    Registered in mmengine's root ``LOOPS`` (seen from the mmseg and the
    mmpretrain scope). ``val_cfg = dict(type='MultiCombinationValLoop',
    combinations='all')``.

    Args:
        runner (Runner): the runner.
        dataloader (DataLoader | dict): the val dataloader.
        evaluator (Evaluator | dict | list): the host evaluator config, built
            once per combination.
        combinations (str | list): ``'all'`` (default), ``'rgb,depth'`` or a
            list (``['rgb', 'rgb+depth']``), parsed by
            :meth:`ModalityLayout.parse_combinations`.
        modalities (str | dict, optional): the layout, when the model's data
            preprocessor / backbone has no ``layout``.
        reuse (bool): predict all combinations with the model's
            ``predict_combinations`` (each encoder once per batch). False runs
            one full ``val_step`` per combination (the reference path).
        save_json (bool): write the JSON record to the log dir.
        fp16 (bool): evaluate under autocast.

    Example:
        >>> val_cfg = dict(type='MultiCombinationValLoop', combinations='all')
        >>> default_hooks = dict(checkpoint=dict(
        ...     type='CheckpointHook', save_best='mean/mIoU', rule='greater'))
    """

    stage = 'val'

    @property
    def val_loss(self) -> Dict[str, HistoryBuffer]:
        return self.losses


@LOOPS.register_module()
class MultiCombinationTestLoop(_MultiCombinationLoop):
    """Testing over every modality combination in one pass.

    ``test_cfg = dict(type='MultiCombinationTestLoop', combinations='all')``;
    ``tools/test.py --modalities rgb`` sets ``combinations='rgb'`` and the
    loop reports ``rgb/mIoU`` and ``mean/mIoU``. Arguments as
    :class:`MultiCombinationValLoop`.

    Example:
        >>> test_cfg = dict(type='MultiCombinationTestLoop',
        ...                 combinations=['rgb', 'depth'])
    """

    stage = 'test'

    @property
    def test_loss(self) -> Dict[str, HistoryBuffer]:
        return self.losses


__all__ = ['MultiCombinationValLoop', 'MultiCombinationTestLoop']
