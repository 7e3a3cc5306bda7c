"""Draw a panel per test sample: modalities | GT | prediction per combination.

Shorthand: B batch, C stacked channels, H x W image size, K combinations.

``tools/test.py --show-dir DIR [--interval N]`` adds
:class:`CombinationVisualizationHook` to the config
(:func:`add_show_dir_hook`). The every-combination test loop keeps the K
outputs of its current batch in ``loop.combination_outputs``; the hook draws
every ``interval``-th sample with :func:`.panels.seg_panel` or
:func:`.panels.cls_panel` and writes ``DIR/<image stem>.png``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from mm_incomplete.modality import MASK_FIELD, ModalityLayout
from .panels import cls_panel, default_palette, seg_panel


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) \
        else np.asarray(x)


def raw_image(inputs: torch.Tensor, sample, shape) -> np.ndarray:
    """(C, H, W) loader output -> (H, W, C) float32 at ``shape`` (H, W).

    The padding beyond the sample's ``img_shape`` is cut off, then the image
    is resized (nearest: a depth hole is never blended) to ``shape``, the
    size of the predictions.
    """
    img = _to_numpy(inputs).astype(np.float32).transpose(1, 2, 0)
    h, w = sample.metainfo.get('img_shape', img.shape[:2])[:2]
    img = img[:h, :w]
    if tuple(img.shape[:2]) != tuple(shape):
        chans = [cv2.resize(img[..., c], (shape[1], shape[0]),
                            interpolation=cv2.INTER_NEAREST)
                 for c in range(img.shape[2])]
        img = np.stack(chans, axis=2)
    return img


def combination_of(sample, layout: ModalityLayout) -> str:
    """The combination name a sample was predicted with (its mask)."""
    mask = sample.get(MASK_FIELD, None)
    if mask is None:
        return layout.combination_name(layout.full)
    names = tuple(n for n, m in zip(layout.names, _to_numpy(mask)) if m)
    return layout.combination_name(names)


@HOOKS.register_module()
class CombinationVisualizationHook(Hook):
    """Write a side-by-side panel for every ``interval``-th test sample.

    Segmentation: each modality (depth colour-mapped) | ground truth |
    prediction of each evaluated combination blended over RGB.
    Classification: each modality | GT and predicted class per combination.
    Registered in mmengine's root ``HOOKS`` (both task scopes see it).

    Args:
        out_dir (str): folder for the PNGs (created).
        interval (int): draw samples 0, interval, 2 * interval, ... (counted
            over the test set on each rank).
        min_size (int): shorter side of each tile, at least (readable text
            for 64 x 64 inputs).

    Example:
        >>> custom_hooks = [dict(type='CombinationVisualizationHook',
        ...                      out_dir='work_dirs/show', interval=10)]
    """

    priority = 'LOW'

    def __init__(self, out_dir: str, interval: int = 1, min_size: int = 256):
        if int(interval) < 1:
            raise ValueError(f'`interval` must be >= 1, got {interval}')
        self.out_dir = out_dir
        self.interval = int(interval)
        self.min_size = int(min_size)
        self._seen = 0
        self.written: List[str] = []

    def before_test_epoch(self, runner) -> None:
        self._seen = 0
        self.written = []
        os.makedirs(self.out_dir, exist_ok=True)

    def after_test_epoch(self, runner, metrics=None) -> None:
        print_log(f'{len(self.written)} panels (every {self.interval}. '
                  f'sample) written to {self.out_dir}', logger='current')

    def _layout(self, runner) -> ModalityLayout:
        from mm_incomplete.evaluation.predict import find_layout
        loop = runner.test_loop
        layout = getattr(loop, 'layout', None) or find_layout(runner.model)
        if layout is None:
            raise ValueError('CombinationVisualizationHook cannot find the '
                             'modality layout of the model')
        return ModalityLayout(layout)

    @staticmethod
    def _meta(runner) -> dict:
        dataset = getattr(runner.test_loop.dataloader, 'dataset', None)
        return dict(getattr(dataset, 'metainfo', None) or {})

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        if not outputs:
            return
        layout = self._layout(runner)
        per_combo: Optional[Dict[str, list]] = getattr(
            runner.test_loop, 'combination_outputs', None)
        if not per_combo:
            per_combo = {combination_of(outputs[0], layout): outputs}
        meta = self._meta(runner)
        inputs = data_batch['inputs']
        for i in range(len(outputs)):
            index = self._seen
            self._seen += 1
            if index % self.interval:
                continue
            samples = {c: out[i] for c, out in per_combo.items()}
            panel = self.draw(inputs[i], samples, layout, meta)
            self.written.append(self._write(panel, outputs[i], index))

    def draw(self, inputs: torch.Tensor, samples: dict,
             layout: ModalityLayout, meta: dict) -> np.ndarray:
        """The panel of one sample; ``samples``: ``{combination: sample}``."""
        first = next(iter(samples.values()))
        if 'pred_sem_seg' in first:
            preds = {c: _to_numpy(s.pred_sem_seg.data[0])
                     for c, s in samples.items()}
            shape = next(iter(preds.values())).shape
            gt = _to_numpy(first.gt_sem_seg.data[0]) \
                if 'gt_sem_seg' in first else None
            palette = meta.get('palette') or default_palette(
                len(meta.get('classes') or []) or
                int(max(p.max() for p in preds.values())) + 1)
            scores = None
            if gt is not None:
                valid = gt != 255
                scores = {c: f'acc {100 * (p[valid] == gt[valid]).mean():.0f}%'
                          for c, p in preds.items() if valid.any()}
            return seg_panel(raw_image(inputs, first, shape), layout.names,
                             layout.channels, preds, palette, gt=gt,
                             min_size=self.min_size, scores=scores)
        if 'pred_label' in first:
            preds = {}
            for c, s in samples.items():
                label = int(_to_numpy(s.pred_label).reshape(-1)[0])
                score = float(_to_numpy(s.pred_score)[label]) \
                    if 'pred_score' in s else float('nan')
                preds[c] = (label, score)
            gt = int(_to_numpy(first.gt_label).reshape(-1)[0]) \
                if 'gt_label' in first else None
            shape = tuple(_to_numpy(inputs).shape[1:])
            return cls_panel(raw_image(inputs, first, shape), layout.names,
                             layout.channels, preds, meta.get('classes'),
                             gt=gt, min_size=self.min_size)
        raise KeyError('CombinationVisualizationHook: the predictions carry '
                       'neither `pred_sem_seg` nor `pred_label` (fields: '
                       f'{sorted(first.keys())})')

    def _write(self, panel: np.ndarray, sample, index: int) -> str:
        path = sample.metainfo.get('img_path')
        stem = osp.splitext(osp.basename(path))[0] if path else \
            f'{index:06d}'
        out = osp.join(self.out_dir, f'{stem}.png')
        if out in self.written:  # two samples share a file name
            out = osp.join(self.out_dir, f'{stem}_{index:06d}.png')
        if not cv2.imwrite(out, np.ascontiguousarray(panel[..., ::-1])):
            raise OSError(f'could not write the panel {out}')
        return out


def add_show_dir_hook(cfg, show_dir: str, interval: int = 1) -> None:
    """``--show-dir``: add the panel hook to ``cfg.custom_hooks``.

    The host visualisation hooks stay as configured (they would draw the
    full combination only).
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    hooks.append(dict(type='CombinationVisualizationHook',
                      out_dir=show_dir, interval=interval))
    cfg.custom_hooks = hooks
