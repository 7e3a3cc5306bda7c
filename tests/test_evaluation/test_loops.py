"""MultiCombinationValLoop / MultiCombinationTestLoop with a tiny model."""
import copy
import json
import os.path as osp
import uuid

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel
from mmengine.registry import LOOPS, METRICS
from mmengine.runner import Runner

import mm_incomplete  # noqa: F401  registers the loops
from _evaluation_fakes import (LAYOUT, FakeAccuracy, FakeDataset,
                               FakeMultiModalModel)

METRICS.register_module(name='FakeAccuracyForLoops', module=FakeAccuracy,
                        force=True)
ALL = ['rgb+depth', 'rgb', 'depth']


class RecordIterHook(Hook):
    """Records the hook calls and the outputs given to after_*_iter."""

    def __init__(self):
        self.calls, self.outputs = [], []

    def _rec(self, name, outputs=None):
        self.calls.append(name)
        if outputs is not None:
            self.outputs.append(outputs)

    def before_val(self, runner):
        self._rec('before_val')

    def before_val_epoch(self, runner):
        self._rec('before_val_epoch')

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        self._rec('before_val_iter')

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None):
        self._rec('after_val_iter', outputs)

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = metrics
        self._rec('after_val_epoch')

    def after_val(self, runner):
        self._rec('after_val')

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        self._rec('before_test_iter')

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        self._rec('after_test_iter', outputs)

    def after_test_epoch(self, runner, metrics=None):
        self.metrics = metrics
        self._rec('after_test_epoch')


def make_runner(tmp_path, model=None, combinations='all', evaluator=None,
                reuse=True, hooks=None, dataset=None, loop_kwargs=None,
                **kwargs):
    loader = dict(dataset=dataset or FakeDataset(), batch_size=4,
                  num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False))
    evaluator = evaluator or dict(type='FakeAccuracyForLoops')
    kwargs.setdefault('default_hooks',
                      dict(logger=dict(type='LoggerHook', interval=1)))
    return Runner(
        model=model or FakeMultiModalModel(),
        work_dir=str(tmp_path),
        experiment_name=f'eval_{uuid.uuid4().hex}',
        val_dataloader=copy.deepcopy(loader),
        val_cfg=dict(type='MultiCombinationValLoop',
                     combinations=combinations, reuse=reuse,
                     **(loop_kwargs or {})),
        val_evaluator=copy.deepcopy(evaluator),
        test_dataloader=copy.deepcopy(loader),
        test_cfg=dict(type='MultiCombinationTestLoop',
                      combinations=combinations, reuse=reuse,
                      **(loop_kwargs or {})),
        test_evaluator=copy.deepcopy(evaluator),
        custom_hooks=hooks,
        **kwargs)


def test_registered_in_root_loops():
    assert LOOPS.get('MultiCombinationValLoop').__name__ == \
        'MultiCombinationValLoop'
    assert LOOPS.get('MultiCombinationTestLoop').__name__ == \
        'MultiCombinationTestLoop'
    # both host scopes see the root registry
    from mmpretrain.registry import LOOPS as PRETRAIN_LOOPS
    from mmseg.registry import LOOPS as SEG_LOOPS
    assert SEG_LOOPS.get('MultiCombinationValLoop') is \
        LOOPS.get('MultiCombinationValLoop')
    assert PRETRAIN_LOOPS.get('MultiCombinationTestLoop') is \
        LOOPS.get('MultiCombinationTestLoop')


def test_keys_mean_and_table(tmp_path, capsys):
    metrics = make_runner(tmp_path).test()
    expected = {f'{c}/fake/{k}' for c in ALL + ['mean']
                for k in ('top1', 'confidence')}
    assert set(metrics) == expected
    for key in ('top1', 'confidence'):
        mean = sum(metrics[f'{c}/fake/{key}'] for c in ALL) / 3
        assert metrics[f'mean/fake/{key}'] == pytest.approx(mean)
    # the three combinations really differ (the mask reaches the model)
    assert len({metrics[f'{c}/fake/confidence'] for c in ALL}) == 3
    out = capsys.readouterr().out
    table = out[out.index('| combination'):]
    rows = [line.split('|')[1].strip() for line in table.splitlines()
            if line.startswith('|')][1:5]
    assert rows == ALL + ['mean']


def test_every_combination_equals_single_runs(tmp_path):
    model = FakeMultiModalModel()
    joint = make_runner(tmp_path / 'all', model=model).test()
    shared_calls = model.encoder_calls
    for combo in ALL:
        single = make_runner(tmp_path / combo, model=model,
                             combinations=combo).test()
        assert set(single) == {f'{combo}/fake/top1', 'mean/fake/top1',
                               f'{combo}/fake/confidence',
                               'mean/fake/confidence'}
        for key in ('top1', 'confidence'):
            assert single[f'{combo}/fake/{key}'] == \
                joint[f'{combo}/fake/{key}']
            assert single[f'mean/fake/{key}'] == single[f'{combo}/fake/{key}']
    # reference path: one full test_step per combination, same metrics
    model.encoder_calls = 0
    separate = make_runner(tmp_path / 'sep', model=model, reuse=False).test()
    assert separate == joint
    # 10 samples in 3 batches: shared = 2 encoders per batch, separate =
    # 2 + 1 + 1 encoders per batch
    assert shared_calls == 3 * 2
    assert model.encoder_calls == 3 * 4


def test_fallback_without_predict_combinations(tmp_path):
    joint = make_runner(tmp_path / 'a').test()
    plain = FakeMultiModalModel(with_predict_combinations=False)
    fallback = make_runner(tmp_path / 'b', model=plain).test()
    assert fallback == joint


def test_preprocessor_test_combination_does_not_leak(tmp_path):
    """A preprocessor set to evaluate 'rgb' must not zero depth for 'depth'."""
    joint = make_runner(tmp_path / 'a').test()
    model = FakeMultiModalModel()
    model.data_preprocessor.test_combination = ('rgb', )
    assert make_runner(tmp_path / 'b', model=model).test() == joint


def test_hooks_and_report_outputs(tmp_path):
    hook = RecordIterHook()
    runner = make_runner(tmp_path, hooks=[hook],
                         combinations=['depth', 'rgb+depth'])
    metrics = runner.val()
    assert hook.calls[:2] == ['before_val', 'before_val_epoch']
    assert hook.calls[2:8] == ['before_val_iter', 'after_val_iter'] * 3
    assert hook.calls[-2:] == ['after_val_epoch', 'after_val']
    assert hook.metrics == metrics
    # the full combination is reported to the iteration hooks
    for outputs in hook.outputs:
        assert all(s.modality_mask.all() for s in outputs)
    assert sum(len(o) for o in hook.outputs) == 10
    assert runner.val_evaluator is runner.val_loop.evaluators['rgb+depth']


def test_single_combination_without_full(tmp_path):
    hook = RecordIterHook()
    metrics = make_runner(tmp_path, hooks=[hook], combinations='depth').test()
    assert set(metrics) == {'depth/fake/top1', 'depth/fake/confidence',
                            'mean/fake/top1', 'mean/fake/confidence'}
    for outputs in hook.outputs:
        assert all(s.modality_mask.tolist() == [False, True]
                   for s in outputs)


def test_json_written(tmp_path):
    runner = make_runner(tmp_path, combinations='rgb, depth')
    metrics = runner.test()
    path = osp.join(runner.log_dir, 'combination_metrics_test.json')
    assert runner.test_loop.last_json == path
    with open(path) as f:
        record = json.load(f)
    assert record['stage'] == 'test'
    assert record['combinations'] == ['rgb', 'depth']
    assert record['modalities'] == {'rgb': 2, 'depth': 1}
    assert record['model'] == 'FakeMultiModalModel'
    assert record['num_samples'] == 10
    assert record['report_combination'] == 'rgb'
    for combo in ['rgb', 'depth', 'mean']:
        assert record['metrics'][combo]['fake/top1'] == \
            metrics[f'{combo}/fake/top1']


def test_built_evaluator_is_copied(tmp_path):
    joint = make_runner(tmp_path / 'a').test()
    built = make_runner(tmp_path / 'b',
                        evaluator=Evaluator(FakeAccuracy())).test()
    assert built == joint


def test_bad_combination_names_option(tmp_path):
    runner = make_runner(tmp_path, combinations='rgb+ir')
    with pytest.raises(ValueError, match=r'test_cfg.combinations.*ir'):
        runner.test()


def test_missing_layout_is_explained(tmp_path):
    model = FakeMultiModalModel()
    del model.data_preprocessor.layout
    runner = make_runner(tmp_path, model=model)
    with pytest.raises(ValueError, match='val_cfg.modalities'):
        runner.val()


def test_modalities_option(tmp_path):
    model = FakeMultiModalModel()
    del model.data_preprocessor.layout
    runner = make_runner(tmp_path / 'a', model=model,
                         loop_kwargs=dict(modalities=dict(rgb=2, depth=1)))
    assert runner.test() == make_runner(tmp_path / 'b').test()
    runner = make_runner(tmp_path / 'c',
                         loop_kwargs=dict(modalities='rgb:3,depth:1'))
    with pytest.raises(ValueError, match='test_cfg.modalities.*differ'):
        runner.test()


@pytest.mark.parametrize('by_epoch', [False, True])
def test_train_then_val_saves_best_on_mean(tmp_path, by_epoch):
    train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1) if by_epoch \
        else dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    runner = make_runner(
        tmp_path,
        train_dataloader=dict(dataset=FakeDataset(num=8), batch_size=4,
                              num_workers=0,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=True)),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1 if by_epoch else 2,
            by_epoch=by_epoch, save_best='mean/fake/top1', rule='greater')))
    runner.train()
    tag = 'epoch_1' if by_epoch else 'iter_2'
    assert osp.isfile(osp.join(runner.log_dir,
                               f'combination_metrics_val_{tag}.json'))
    assert osp.isfile(osp.join(str(tmp_path),
                               f'best_mean_fake_top1_{tag}.pth'))


class FakeTTA(BaseTTAModel):
    """Averages the class scores of the augmentations."""

    def merge_preds(self, data_samples_list):
        merged = []
        for augs in data_samples_list:
            s = augs[0].clone()
            s.pred_score = sum(a.pred_score for a in augs) / len(augs)
            merged.append(s)
        return merged


class FlipTTADataset(FakeDataset):
    """Every sample twice: as is and flipped (a TTA pipeline's output)."""

    def __getitem__(self, i):
        item = super().__getitem__(i)
        flipped = dict(inputs=item['inputs'].flip(-1),
                       data_samples=item['data_samples'].clone())
        return dict(inputs=[item['inputs'], flipped['inputs']],
                    data_samples=[item['data_samples'],
                                  flipped['data_samples']])


def test_tta_model_uses_separate_passes(tmp_path):
    """A TTA wrapper has no predict_combinations: the loop runs one
    test_step per combination with the mask on every augmented copy."""
    model = FakeMultiModalModel()
    tta = FakeTTA(module=model)
    runner = make_runner(tmp_path, model=tta, dataset=FlipTTADataset())
    metrics = runner.test()
    # reference: the masked model, both views scored by hand
    data = FakeDataset()
    for combo in ALL:
        mask = LAYOUT.combination_mask(combo)[None].expand(10, -1)
        with torch.no_grad():
            x = data.inputs * LAYOUT.channel_mask(mask)[:, :, None, None]
            feats = model.encode(x, [n for n in LAYOUT.names if n in combo])
            feats_f = model.encode(x.flip(-1),
                                   [n for n in LAYOUT.names if n in combo])
            score = (model.decode(feats, mask) +
                     model.decode(feats_f, mask)) / 2
        top1 = 100.0 * (score.argmax(1) == data.labels).float().mean()
        assert metrics[f'{combo}/fake/top1'] == pytest.approx(float(top1))
