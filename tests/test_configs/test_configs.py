"""Every config under configs/ loads and means what it meant.

``config_snapshot.json`` holds the fingerprint (``_config_fingerprint.py``)
of every config (first taken before the dataset bases were rewritten to
declare each pipeline once, re-taken after the wave-2 methods landed and
when the model parts stopped repeating the layout, which the task models
now hand them from the data preprocessor). A
config changed on purpose is re-fingerprinted deliberately:
``PYTHONPATH=.:tests/test_configs python tests/test_configs/_config_fingerprint.py
mm_incomplete/configs tests/test_configs/config_snapshot.json``. Each config must still resolve to the same fields, and the
CPU-size ones must build the same model (parameter names, shapes and, with
the same seed, the same initial values). Every other config with a model
builds it too, and every distiller trains one step on two small images
(``test_config_builds_and_a_distiller_trains_a_step``).
"""
import json
import os.path as osp

import pytest

from _config_fingerprint import config_files, fingerprint, is_small
from mm_incomplete.utils import config_path

ROOT = osp.dirname(config_path('baselines/README.md'))
ROOT = osp.dirname(ROOT)
with open(osp.join(osp.dirname(__file__), 'config_snapshot.json')) as f:
    SNAPSHOT = json.load(f)
CONFIGS = [c for c in config_files(ROOT)
           if not c.startswith(osp.join('_base_', 'models'))]

# fields added on purpose since the snapshot: {config: {key: value}}
ADDED = {}

# layouts changed on purpose since the snapshot: {config: {before: now}}
CHANGED_LAYOUTS = {}


def _replace(tree, mapping):
    if isinstance(tree, dict):
        return {k: _replace(v, mapping) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_replace(v, mapping) for v in tree]
    return mapping.get(tree, tree) if isinstance(tree, str) else tree


def test_every_config_is_covered():
    assert sorted(SNAPSHOT) == sorted(CONFIGS)


def _diff(a, b, path=''):
    """Paths where two JSON trees differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k, '<missing>'), b.get(k, '<missing>'),
                         f'{path}.{k}')
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in _diff(x, y, f'{path}[{i}]')]
    return [] if a == b else [f'{path}: {a!r} != {b!r}']


@pytest.mark.parametrize('rel', CONFIGS)
def test_config_means_what_it_meant(rel):
    now = fingerprint(osp.join(ROOT, rel), build=is_small(rel))
    now = json.loads(json.dumps(now))  # the snapshot's JSON types
    before = json.loads(json.dumps(SNAPSHOT[rel]))
    before = _replace(before, CHANGED_LAYOUTS.get(rel, {}))
    for key, value in ADDED.get(rel, {}).items():
        assert now['config'].pop(key) == value
    assert _diff(before, now) == []


# Every config that defines a model (not the `_base_` fragments) must build
# it. The fingerprint above builds the CPU-size ones but the distillers;
# the test below builds the rest (paper-size models: ResNet-50 branches,
# no pretrained weights: building does not initialise) and runs one
# training step of every distiller, so that a recorder or a distillation
# input naming a module the model does not have fails here (the NYUDv2
# MMH and one-stage distillers once named UPerHead modules of an ESANet
# decoder). Configs whose model config equals an earlier one's (or a
# distiller's student or teacher) are built once.
def _unbuilt_models():
    models = {}
    for rel in CONFIGS:
        snap = SNAPSHOT[rel]
        model = snap['config'].get('model')
        if '_base_' in rel.split(osp.sep) or model is None or \
                'model_params' in snap:
            continue  # fragment, no model, or built by the fingerprint
        models[rel] = model
    seen, out = set(), []
    # distillers first: they build their student and teacher
    for rel in sorted(models, key=lambda r: 'teacher_ckpt' not in models[r]):
        model = models[rel]
        # a distiller's step reads the training pipeline (the image size)
        key = json.dumps([model, SNAPSHOT[rel]['config']['train_dataloader']
                          if 'teacher_ckpt' in model else None],
                         sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(rel)
            seen.update(json.dumps([model.get(k), None], sort_keys=True)
                        for k in ('student', 'teacher'))
    return sorted(out)


UNBUILT = _unbuilt_models()


def _cls_size(cfg):
    """The training images' size of a classification config: its resize
    scale, else the synthetic sets' 64 x 64."""
    for step in cfg.train_dataloader.dataset.pipeline:
        if step.type == 'MultiModalResize':
            return tuple(step.scale)[::-1]  # (w, h) -> (h, w)
    return (64, 64)


def _replace_key(tree, key, value):
    if isinstance(tree, dict):
        for k in tree:
            if k == key:
                tree[k] = value
            else:
                _replace_key(tree[k], key, value)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            _replace_key(v, key, value)


def _train_batch(cfg, model, num_classes, size):
    import torch
    n, (h, w) = 2, size
    channels = model.data_preprocessor.layout.total_channels
    if cfg.default_scope == 'mmseg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = [SegDataSample(
            metainfo=dict(img_shape=size, ori_shape=size),
            gt_sem_seg=PixelData(data=torch.randint(0, num_classes,
                                                    (1, h, w))))
            for _ in range(n)]
    else:
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(i % num_classes)
                   for i in range(n)]
    return dict(inputs=[torch.rand(channels, h, w) * 255 for _ in range(n)],
                data_samples=samples)


@pytest.mark.parametrize('rel', UNBUILT)
def test_config_builds_and_a_distiller_trains_a_step(rel, tmp_path,
                                                      monkeypatch):
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope

    import mm_incomplete.models.distillers.base_distiller as base
    cfg = Config.fromfile(osp.join(ROOT, rel))
    distiller = 'teacher_ckpt' in cfg.model
    # the teacher keeps its random initialisation (its checkpoint is
    # loaded strictly elsewhere: tests/test_models/test_distillers)
    loaded = []
    monkeypatch.setattr(base, 'load_teacher_checkpoint',
                        lambda teacher, path, prefix=None: loaded.append(path))
    if distiller:  # one step on 2 small images
        student = cfg.model.student
        seg = cfg.default_scope == 'mmseg'
        size = (64, 80) if seg else _cls_size(cfg)
        if 'size' in student.data_preprocessor:  # padding to the crop
            student.data_preprocessor.size = size
        head = student.decode_head if seg else student.head
        num_classes = head.num_classes
        weights = tmp_path / 'class_weights.json'
        weights.write_text(json.dumps([1.0 + i / num_classes
                                       for i in range(num_classes)]))
        _replace_key(cfg.model, 'class_weight_file', str(weights))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
        if not distiller:
            return
        assert loaded == [cfg.model.teacher_ckpt]
        model.train()
        data = model.data_preprocessor(
            _train_batch(cfg, model, num_classes, size), True)
        losses = model(**data, mode='loss')
    names = {k.partition('.')[0] for k in losses}
    assert set(cfg.model.distill_losses) <= names, sorted(losses)
    bad = {k: float(v) for k, v in losses.items() if not torch.isfinite(v)}
    assert not bad
