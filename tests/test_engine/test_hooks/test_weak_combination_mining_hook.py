"""WeakCombinationMiningHook: MMANet's largest-validation-drop rule, in a
real Runner on the synthetic set, interrupted inside the window, resumed;
the weak combination (the MAR method loss's selector, as the shipped
configs wire it) is saved in the checkpoint, restored on resume, used by
the regularizer afterwards and reported by the evaluation."""
import json
import os.path as osp
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mm_incomplete.engine.hooks import WeakCombinationMiningHook

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'test_models', 'test_distillers'))
from _builders import LAYOUT, save_teacher, seg_distiller, seg_net  # noqa

NUM_CLASSES = 9


class _RecordVal(Hook):
    """Keeps every validation's metrics and position."""
    priority = 'VERY_HIGH'

    def __init__(self):
        self.seen = []

    def after_val_epoch(self, runner, metrics=None):
        self.seen.append((runner.iter, dict(metrics)))


def _data(root, split, **kw):
    return dict(
        batch_size=2, num_workers=0,
        sampler=dict(type='InfiniteSampler' if split == 'train' else
                     'DefaultSampler', shuffle=split == 'train'),
        dataset=dict(
            type='SyntheticRGBDSegDataset', data_root=root, split=split,
            size=32, num_train=8, num_val=4, num_test=2, modalities=LAYOUT,
            pipeline=[dict(type='LoadMultiModalImages', modalities=LAYOUT),
                      dict(type='LoadMultiModalAnnotations'),
                      dict(type='PackMultiModalSegInputs')], **kw))


def _cfg(tmp, max_iters, resume=False):
    root = osp.join(tmp, 'synthetic')
    ckpt = osp.join(tmp, 'teacher.pth')
    net = seg_net(dict(type='UniformCombinations'))
    net['decode_head']['num_classes'] = NUM_CLASSES
    if not osp.isfile(ckpt):
        teacher = seg_net()
        teacher['decode_head']['num_classes'] = NUM_CLASSES
        save_teacher(ckpt, teacher)
    model = seg_distiller(ckpt)
    model['student'] = net
    model['teacher'] = dict(net, data_preprocessor=seg_net()[
        'data_preprocessor'])
    # MAR as configs/mmanet wires it: a method loss of the distiller
    mar = model.pop('aux_heads')['mar']['head']
    model['method_losses'] = dict(mar=dict(
        type='CombinationRegularizer', modalities=LAYOUT, combinations=None,
        inputs='fused_feats', prefix='mar',
        head=dict(mar['head'], num_classes=NUM_CLASSES)))
    # a plain Runner(**kwargs): no config to pretty-print (seconds on CPU)
    return dict(
        default_scope='mmseg',
        model=model,
        work_dir=osp.join(tmp, 'work'),
        train_dataloader=_data(root, 'train'),
        val_dataloader=_data(root, 'val'),
        test_dataloader=_data(root, 'test'),
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters,
                       val_interval=2),
        val_cfg=dict(type='MultiCombinationValLoop', save_json=False),
        test_cfg=dict(type='MultiCombinationTestLoop', save_json=True),
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=3),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[
            dict(type='WeakCombinationMiningHook', metric='mIoU', begin=2,
                 end=4),
            dict(type='LossScaleWarmupHook',
                 modules=['method_losses', 'distill_losses'], begin=4)],
        resume=resume,
        randomness=dict(seed=0),
        log_level='WARNING')


def _selector(runner):
    return runner.model.method_losses.mar.selector


def test_mines_validation_drops_and_survives_resume(tmp_path):
    tmp = str(tmp_path)
    # run 1 stops at iteration 3: one validation (at 2) inside the window
    runner = Runner(**_cfg(tmp, max_iters=3))
    rec = _RecordVal()
    runner.register_hook(rec)
    runner.train()
    assert [pos for pos, _ in rec.seen] == [2, 3]
    sel = _selector(runner)
    assert not sel.selected.any()  # window still open
    (_, m2), = [s for s in rec.seen if s[0] == 2]
    drop = {k: m2['rgb+depth/mIoU'] - m2[f'{k}/mIoU']
            for k in ('rgb', 'depth')}
    assert sel.mean_scores() == pytest.approx(drop)  # the val at 3 is out
    ckpt = torch.load(osp.join(tmp, 'work', 'iter_3.pth'))
    assert ckpt['state_dict'][
        'method_losses.mar.selector.score_count'].sum() == 2
    assert ckpt['meta']['weak_combinations'] == {
        'method_losses.mar.selector': []}

    # run 2 resumes, validates at 4 (end of window), selects, goes on to 6
    runner = Runner(**_cfg(tmp, max_iters=6, resume=True))
    rec2 = _RecordVal()
    runner.register_hook(rec2)
    sums = {}

    class _Spy(Hook):
        priority = 'VERY_LOW'

        def before_train(self, runner):
            sums['resumed'] = _selector(runner).mean_scores()

    runner.register_hook(_Spy())
    runner.train()
    assert sums['resumed'] == pytest.approx(drop)  # restored, not redone
    (_, m4), = [s for s in rec2.seen if s[0] == 4]
    mean = {k: (drop[k] + m4['rgb+depth/mIoU'] - m4[f'{k}/mIoU']) / 2
            for k in ('rgb', 'depth')}
    weak = max(mean, key=mean.get)
    sel = _selector(runner)
    assert sel.selected_names == [weak]
    final = torch.load(osp.join(tmp, 'work', 'iter_6.pth'))
    assert final['meta']['weak_combinations'] == {
        'method_losses.mar.selector': [weak]}
    assert final['state_dict']['method_losses.mar.selector.selected'].sum() \
        == 1
    assert not any('teacher' in k for k in final['state_dict'])
    # the regularizer and MAD start at iteration 4 (warm-up hook)
    mar = runner.model.method_losses.mar
    assert mar.loss_scale == 1.0

    # run 3 resumes after the window: the weak combination comes back from
    # the checkpoint (nothing is mined again) ...
    runner = Runner(**_cfg(tmp, max_iters=7, resume=True))
    restored = {}

    class _AtStart(Hook):
        priority = 'VERY_LOW'

        def before_train(self, runner):
            restored['names'] = _selector(runner).selected_names

    runner.register_hook(_AtStart())
    runner.train()
    assert restored['names'] == [weak]
    # ... the regularizer uses it: only the weak combination's samples
    # reach the MAR head
    model = runner.model
    model.train()
    from _builders import seg_batch
    from mm_incomplete.modality import set_modality_masks
    data = model.data_preprocessor(seg_batch(4, size=32), False)
    inputs, samples = data['inputs'], data['data_samples']
    weak_row = [n in weak.split('+') for n in ('rgb', 'depth')]
    other = [[True, True], [True, False], [False, True]]
    other.remove(weak_row)
    for rows, counts in (([weak_row, other[0]] * 2, True),
                         ([other[0], other[1]] * 2, False)):
        set_modality_masks(samples, torch.tensor(rows))
        rec = model.student.forward_record(inputs, samples)
        loss = model.method_losses.mar(rec)['mar.loss_ce']
        assert (float(loss) > 0) == counts, (rows, float(loss))
    # ... and the evaluation reports the state it evaluated with
    runner.test()
    with open(runner.test_loop.last_json) as f:
        record = json.load(f)
    assert record['method_state'] == {'method_losses.mar.selector': [weak]}


def test_refuses_to_mine_on_the_test_split():
    from mm_incomplete.models.utils import CombinationSelector
    model = torch.nn.Module()
    model.selector = CombinationSelector(LAYOUT)
    split = dict(type='SyntheticRGBDSegDataset', split='val')
    runner = SimpleNamespace(
        model=model, val_loop=object(),
        cfg=Config(dict(val_dataloader=dict(dataset=split),
                        test_dataloader=dict(dataset=dict(split)))))
    hook = WeakCombinationMiningHook(metric='mIoU', begin=0, end=1)
    with pytest.raises(ValueError, match='held-out validation split'):
        hook.before_train(runner)
    runner.cfg.test_dataloader.dataset.split = 'test'
    hook.before_train(runner)  # distinct splits are fine
    model.selector = CombinationSelector(LAYOUT, ['depth'])
    with pytest.raises(RuntimeError, match='no selector to mine'):
        hook.before_train(runner)
    hook = WeakCombinationMiningHook(begin=0, end=1, selectors=['selector'])
    with pytest.raises(ValueError, match='fixed by the config'):
        hook.before_train(runner)


def test_drops_need_every_combination_metric():
    hook = WeakCombinationMiningHook(metric='mIoU', begin=0, end=1)
    assert hook.drops({'rgb+depth/mIoU': 50., 'depth/mIoU': 41.},
                      ['depth'], 'rgb+depth') == {'depth': 9.0}
    with pytest.raises(KeyError, match='MultiCombinationValLoop'):
        hook.drops({'mIoU': 50.}, ['depth'], 'rgb+depth')
    with pytest.raises(ValueError, match='begin'):
        WeakCombinationMiningHook(begin=3, end=2)
