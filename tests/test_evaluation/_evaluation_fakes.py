"""A tiny multimodal model, dataset and metric for the evaluation tests.

Shorthand: B batch, M modalities (rgb:2, depth:1), C = 3 stacked channels.

The model mimics this package's segmentors/classifiers without depending on
them: a per-modality encoder (a 1x1 conv), fusion = masked mean of the
modality features, a 1x1 conv head producing a per-sample class score.
``predict_combinations`` runs each encoder once; ``test_step`` runs the
encoders of the present modalities only. Both count encoder calls.
"""
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

from mm_incomplete.modality import (ModalityLayout, set_modality_masks,
                                    stack_modality_masks)

LAYOUT = ModalityLayout('rgb:2,depth:1')
NUM_CLASSES = 3


class FakePreprocessor(BaseDataPreprocessor):
    """Stacks inputs, sets the eval mask where absent, zeroes masked chans."""

    def __init__(self, test_combination=None):
        super().__init__()
        self.layout = LAYOUT
        self.test_combination = test_combination

    def forward(self, data, training=False):
        data = self.cast_data(data)
        inputs = torch.stack(data['inputs']).float()
        samples = data['data_samples']
        combo = self.test_combination or LAYOUT.full
        for s in samples:
            if s.get('modality_mask', None) is None:
                s.set_field(LAYOUT.combination_mask(combo), 'modality_mask',
                            field_type='data')
        mask = stack_modality_masks(samples, len(samples), len(LAYOUT))
        inputs = inputs * LAYOUT.channel_mask(mask)[:, :, None, None]
        return dict(inputs=inputs, data_samples=samples)


class FakeMultiModalModel(BaseModel):
    """Per-modality encoders, masked-mean fusion, linear classifier."""

    def __init__(self, with_predict_combinations=True):
        super().__init__(data_preprocessor=FakePreprocessor())
        torch.manual_seed(0)
        self.encoders = nn.ModuleDict({
            n: nn.Conv2d(c, 4, 1)
            for n, c in zip(LAYOUT.names, LAYOUT.channels)
        })
        self.head = nn.Linear(4, NUM_CLASSES)
        self.encoder_calls = 0
        if not with_predict_combinations:
            self.predict_combinations = None

    def encode(self, inputs, names):
        parts = LAYOUT.split(inputs)
        self.encoder_calls += len(names)
        return {n: self.encoders[n](parts[n]).mean((2, 3)) for n in names}

    def decode(self, feats, mask):
        w = mask.float() / mask.float().sum(1, keepdim=True)
        fused = sum(w[:, i:i + 1] * feats[n]
                    for i, n in enumerate(LAYOUT.names) if n in feats)
        return self.head(fused)

    def _pack(self, logits, samples):
        out = []
        for s, row in zip(samples, logits):
            s = s.clone()
            s.set_field(row.detach(), 'pred_score', field_type='data')
            out.append(s)
        return out

    def forward(self, inputs, data_samples=None, mode='tensor'):
        mask = stack_modality_masks(data_samples, inputs.shape[0],
                                    len(LAYOUT))
        present = [n for i, n in enumerate(LAYOUT.names) if mask[:, i].any()]
        logits = self.decode(self.encode(inputs, present), mask)
        if mode == 'loss':
            gt = torch.stack([s.gt_label for s in data_samples])
            return dict(loss=nn.functional.cross_entropy(logits, gt))
        if mode == 'predict':
            return self._pack(logits, data_samples)
        return logits

    def predict_combinations(self, inputs, data_samples, combinations):
        feats = self.encode(inputs, LAYOUT.names)
        out = {}
        for name in combinations:
            mask = LAYOUT.combination_mask(name).expand(inputs.shape[0], -1)
            samples = [s.clone() for s in data_samples]
            set_modality_masks(samples, mask)
            out[name] = self._pack(self.decode(feats, mask), samples)
        return out


class FakeDataset(Dataset):
    """N random (3, 4, 4) samples whose label depends on both modalities."""

    metainfo = dict(classes=tuple(f'c{i}' for i in range(NUM_CLASSES)))

    def __init__(self, num=10, seed=1):
        g = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(num, 3, 4, 4, generator=g)
        score = self.inputs[:, 0].mean((1, 2)) + self.inputs[:, 2].mean((1, 2))
        self.labels = torch.bucketize(score, torch.tensor([-0.3, 0.3]))

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        sample = BaseDataElement(metainfo=dict(index=i))
        sample.set_field(self.labels[i], 'gt_label', field_type='data')
        return dict(inputs=self.inputs[i], data_samples=sample)


class FakeAccuracy(BaseMetric):
    """Top-1 accuracy (%) and mean max-probability of the predictions."""

    default_prefix = 'fake'

    def process(self, data_batch, data_samples):
        for s in data_samples:
            score = s['pred_score']
            self.results.append((int(score.argmax()), int(s['gt_label']),
                                 float(score.softmax(0).max())))

    def compute_metrics(self, results):
        n = len(results)
        return dict(
            top1=100.0 * sum(p == g for p, g, _ in results) / n,
            confidence=sum(c for *_, c in results) / n)
