"""Predict one multi-modal sample, with any modality missing, per combination.

Shorthand: M modalities, C stacked channels, H x W image size, K
combinations available from the modalities present.

A sample is a dict ``{modality: source}``; a source is a file path, an array
(the decoded file content: colour uint8 in RGB order, depth uint16 or float
in units of ``1 / depth_scale`` m) or ``None`` (absent). A missing modality is
a first-class input: its channels are zero-filled, the sample carries the
modality mask of what is present, and only combinations of present
modalities are predicted. Decoding uses the config's own
``LoadMultiModalImages`` (same units, checks and error messages as in
training); the rest of the config's test pipeline (resize, pack) follows,
annotation loading left out.
"""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mm_incomplete.evaluation.predict import predict_every_combination
from mm_incomplete.modality import (ModalityLayout, set_modality_masks)
from mm_incomplete.visualization.panels import (cls_panel, colorize_labels,
                                                default_palette,
                                                modality_tiles, scale_to,
                                                seg_panel, titled)

Source = Union[str, np.ndarray, None]
Sample = Mapping[str, Source]


def _registries(scope: str):
    if scope == 'mmseg':
        from mmseg.registry import DATASETS, MODELS, TRANSFORMS
    elif scope == 'mmpretrain':
        from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS
    else:
        raise ValueError(f'default_scope {scope!r} is neither mmseg nor '
                         'mmpretrain')
    return MODELS, TRANSFORMS, DATASETS


class MultiModalInferencer:
    """Predict under every available modality combination, and draw it.

    In the style of mmseg's ``MMSegInferencer`` and mmpretrain's
    ``ImageClassificationInferencer``: build once from a config (and a
    checkpoint), then call on samples.

    Args:
        model (str | Config): a config file, a shipped config name
            (``'dmrnet/synthetic_seg_cpu.py'``) or a :class:`Config`.
        weights (str, optional): checkpoint to load; None keeps the random
            initialisation (for tests).
        device (str, optional): ``'cpu'``, ``'cuda'``, ...; default CUDA when
            available.
        cfg_options (dict, optional): overrides merged into the config.

    Call:
        ``inferencer(inputs, combination='all', out_dir=None,
        return_datasamples=False)`` with ``inputs`` one sample dict or a
        list of them. ``combination``: ``'all'`` (every combination of the
        present modalities), ``'present'`` (only the one of all present
        modalities), a name (``'rgb'``) or a list of names; a combination
        that needs an absent modality is an error. Returns per sample a dict
        ``predictions`` (``{combination: (H, W) int64 class ids}`` for
        segmentation, ``{combination: dict(pred_label, pred_score,
        pred_scores)}`` for classification, or the data samples with
        ``return_datasamples``), ``present`` (modality names) and
        ``visualization`` (the (H', W', 3) RGB panel). With ``out_dir`` the
        panel goes to ``out_dir/<name>_panel.png`` and one overlay per
        combination to ``out_dir/<name>_<combination>.png`` (``<name>``: the
        stem of the first file given, else ``sample_<index>``).

    Example:
        >>> from mm_incomplete.apis import MultiModalInferencer
        >>> import numpy as np
        >>> inf = MultiModalInferencer(  # doctest: +SKIP
        ...     'baselines/multi_branch_moddrop_synthetic_seg_cpu.py',
        ...     weights='iter_600.pth', device='cpu')
        >>> rgb = np.zeros((64, 64, 3), np.uint8)  # doctest: +SKIP
        >>> out = inf({'rgb': rgb, 'depth': None})  # doctest: +SKIP
        >>> list(out['predictions'])  # doctest: +SKIP
        ['rgb']
    """

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 cfg_options: Optional[dict] = None):
        cfg = self._load_config(model)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        self.cfg = cfg
        self.scope = cfg.get('default_scope', 'mmseg')
        models, transforms, datasets = _registries(self.scope)
        import mm_incomplete  # noqa: F401  (registers everything)
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        with DefaultScope.overwrite_default_scope(self.scope):
            net = revert_sync_batchnorm(models.build(cfg.model))
            self.dataset_meta = self._dataset_meta(datasets)
            if weights is not None:
                if not osp.isfile(weights):
                    raise FileNotFoundError(
                        f'checkpoint file not found: {weights}')
                ckpt = load_checkpoint(net, weights, map_location='cpu',
                                       logger='current')
                meta = (ckpt.get('meta') or {}).get('dataset_meta')
                if meta:
                    self.dataset_meta.update(meta)
            self.loader, self.pipeline = self._pipelines(transforms)
        self.model = net.to(device).eval()
        self.device = device
        layout = getattr(getattr(net, 'data_preprocessor', None), 'layout',
                         None) or getattr(net, 'layout', None)
        if layout is None:
            raise ValueError(f'{type(net).__name__} has no modality layout; '
                             'is the config one of mm_incomplete\'s?')
        self.layout = ModalityLayout(layout)
        if self.loader.layout != self.layout:
            raise ValueError(
                f'the test pipeline loads {self.loader.layout!r} but the '
                f'model expects {self.layout!r}')

    # -- building ---------------------------------------------------------
    @staticmethod
    def _load_config(model) -> Config:
        if isinstance(model, Config):
            return model.copy()
        if not isinstance(model, str):
            raise TypeError('model must be a config path or a Config, got '
                            f'{type(model).__name__}')
        if not osp.isfile(model):
            from mm_incomplete.utils import config_path
            model = config_path(model)
        return Config.fromfile(model)

    def _dataset_meta(self, datasets) -> dict:
        ds = self.cfg.get('test_dataloader', {}).get('dataset', {})
        cls = datasets.get(ds.get('type')) if ds.get('type') else None
        meta = dict(getattr(cls, 'METAINFO', {}) or {})
        meta.update(ds.get('metainfo') or {})
        return meta

    def _pipelines(self, transforms):
        pipeline = self.cfg.get('test_pipeline', None)
        if pipeline is None:
            pipeline = self.cfg.test_dataloader.dataset.get('pipeline')
        if not pipeline:
            raise KeyError('the config has neither `test_pipeline` nor '
                           '`test_dataloader.dataset.pipeline`')
        loaders = [t for t in pipeline
                   if t['type'] == 'LoadMultiModalImages']
        if len(loaders) != 1:
            raise ValueError('the test pipeline needs exactly one '
                             f'LoadMultiModalImages, found {len(loaders)}')
        rest = [t for t in pipeline if t['type'] != 'LoadMultiModalImages'
                and 'Annotation' not in t['type']]
        return transforms.build(loaders[0]), Compose(
            [transforms.build(t) for t in rest])

    # -- inputs -----------------------------------------------------------
    def present_modalities(self, sample: Sample) -> List[str]:
        """Names (layout order) whose source is not None; checks the keys."""
        if not isinstance(sample, Mapping):
            raise TypeError('a sample is a dict {modality: path | array | '
                            f'None}}, got {type(sample).__name__}')
        unknown = [k for k in sample if k not in self.layout.names]
        if unknown:
            raise KeyError(f'the sample names {unknown}, which are not '
                           'modalities of the model '
                           f'{list(self.layout.names)}')
        present = [n for n in self.layout.names
                   if sample.get(n, None) is not None]
        if not present:
            raise ValueError('the sample has no modality: give at least one '
                             f'of {list(self.layout.names)}')
        return present

    def combinations(self, present: Sequence[str],
                     combination: Union[str, Sequence[str]] = 'all'):
        """The combinations to predict, given the present modalities."""
        if combination == 'present':
            return [tuple(present)]
        if combination == 'all':
            return [c for c in self.layout.combinations()
                    if set(c) <= set(present)]
        combos = self.layout.parse_combinations(combination, 'combination')
        for c in combos:
            absent = [n for n in c if n not in present]
            if absent:
                raise ValueError(
                    f'combination {self.layout.combination_name(c)!r} needs '
                    f'{absent}, absent from this sample (present: '
                    f'{list(present)})')
        return combos

    def stack(self, sample: Sample) -> np.ndarray:
        """(H, W, C) float32: decoded present modalities, zeros elsewhere."""
        present = self.present_modalities(sample)
        parts = {n: self.loader.decode_modality(n, sample[n])
                 for n in present}
        shapes = {n: a.shape[:2] for n, a in parts.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f'modalities differ in size (H, W): {shapes}')
        h, w = next(iter(shapes.values()))
        out = []
        for name, ch in zip(self.layout.names, self.layout.channels):
            out.append(parts[name] if name in parts else
                       np.zeros((h, w, ch), np.float32))
        return np.concatenate(out, axis=2)

    def preprocess(self, sample: Sample,
                   img: Optional[np.ndarray] = None) -> dict:
        """One sample -> a batch of one for ``predict_every_combination``.

        ``img``: the sample's :meth:`stack`, when already computed.
        """
        present = self.present_modalities(sample)
        img = self.stack(sample) if img is None else img
        paths = {n: sample[n] for n in present if isinstance(sample[n], str)}
        first = paths.get('rgb') or next(iter(paths.values()), None)
        results = dict(img=img, img_shape=img.shape[:2],
                       ori_shape=img.shape[:2], img_path=first,
                       modalities=self.layout.names,
                       modality_channels=self.layout.channels,
                       modality_paths=paths)
        if first is None:
            results.pop('img_path')
        data = self.pipeline(results)
        mask = torch.tensor([[n in present for n in self.layout.names]])
        set_modality_masks([data['data_samples']], mask)
        return pseudo_collate([data])

    # -- calling ----------------------------------------------------------
    def __call__(self,
                 inputs: Union[Sample, Sequence[Sample]],
                 combination: Union[str, Sequence[str]] = 'all',
                 out_dir: Optional[str] = None,
                 return_datasamples: bool = False):
        single = isinstance(inputs, Mapping)
        samples = [inputs] if single else list(inputs)
        results = []
        for idx, sample in enumerate(samples):
            present = self.present_modalities(sample)
            combos = self.combinations(present, combination)
            img = self.stack(sample)
            batch = self.preprocess(sample, img)
            with torch.no_grad():
                raw = predict_every_combination(self.model, batch,
                                                self.layout, combos)
            outs = OrderedDict((name, s[0]) for name, s in raw.items())
            panel = self.visualize(img, present, outs)
            if out_dir is not None:
                self._write(out_dir, self._name(sample, idx), panel, img,
                            present, outs)
            preds = outs if return_datasamples else OrderedDict(
                (k, self._plain(v)) for k, v in outs.items())
            results.append(dict(predictions=preds, present=present,
                                visualization=panel))
        return results[0] if single else results

    @staticmethod
    def _plain(sample):
        if 'pred_sem_seg' in sample:
            return sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64)
        scores = sample.pred_score.detach().cpu().numpy()
        label = int(sample.pred_label.reshape(-1)[0])
        return dict(pred_label=label, pred_score=float(scores[label]),
                    pred_scores=scores)

    def _palette(self, preds) -> list:
        palette = self.dataset_meta.get('palette')
        if palette:
            return palette
        num = len(self.dataset_meta.get('classes') or []) or \
            int(max(p.max() for p in preds.values())) + 1
        return default_palette(num)

    def visualize(self, image: np.ndarray, present: Sequence[str],
                  outs: Dict) -> np.ndarray:
        """The panel: each modality (absent ones grey) | each prediction."""
        mask = [n in present for n in self.layout.names]
        if 'pred_sem_seg' in next(iter(outs.values())):
            preds = {k: self._plain(v) for k, v in outs.items()}
            return seg_panel(image, self.layout.names, self.layout.channels,
                             preds, self._palette(preds), present=mask)
        preds = {k: (self._plain(v)['pred_label'],
                     self._plain(v)['pred_score']) for k, v in outs.items()}
        return cls_panel(image, self.layout.names, self.layout.channels,
                         preds, self.dataset_meta.get('classes'),
                         present=mask)

    @staticmethod
    def _name(sample: Sample, idx: int) -> str:
        for src in sample.values():
            if isinstance(src, str):
                return osp.splitext(osp.basename(src))[0]
        return f'sample_{idx:04d}'

    def _write(self, out_dir, name, panel, image, present, outs) -> None:
        os.makedirs(out_dir, exist_ok=True)
        mask = [n in present for n in self.layout.names]
        _, _, base = modality_tiles(image, self.layout.names,
                                    self.layout.channels, mask)
        files = {f'{name}_panel.png': panel}
        for combo, sample in outs.items():
            plain = self._plain(sample)
            if isinstance(plain, np.ndarray):
                colour = colorize_labels(plain, self._palette({0: plain}))
                tile = (base * 0.5 + colour * 0.5).astype(np.uint8)
                text = f'prediction: {combo}'
            else:
                classes = self.dataset_meta.get('classes')
                label = plain['pred_label']
                label = classes[label] if classes else str(label)
                tile, text = base, f'{combo}: {label} ' \
                    f'{plain["pred_score"]:.2f}'
            files[f'{name}_{combo}.png'] = titled(
                scale_to(tile, 256, nearest=True), [text])
        for fname, img in files.items():
            path = osp.join(out_dir, fname)
            if not cv2.imwrite(path, np.ascontiguousarray(img[..., ::-1])):
                raise OSError(f'could not write {path}')
