"""The method state protocol for DMRNet's mined hard combination: kept in
the CombinationRegularizer's selector buffers, saved in the checkpoint,
restored on resume (and by ``load_from`` for testing), used by the
regularizer after restoring, and reported by the every-combination
evaluation. (MMANet's weak combination: test_weak_combination_mining_hook.)
"""
import json
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mm_incomplete.modality import set_modality_masks

LAYOUT = dict(rgb=3, depth=1)
NUM_CLASSES = 9
KEY = 'method_losses.hard_combination.selector'


def _data(root, split):
    return dict(
        batch_size=4, num_workers=0,
        sampler=dict(type='InfiniteSampler' if split == 'train' else
                     'DefaultSampler', shuffle=split == 'train'),
        dataset=dict(
            type='SyntheticRGBDSegDataset', data_root=root, split=split,
            size=32, num_train=8, num_val=2, num_test=2, modalities=LAYOUT,
            pipeline=[dict(type='LoadMultiModalImages', modalities=LAYOUT),
                      dict(type='LoadMultiModalAnnotations'),
                      dict(type='PackMultiModalSegInputs')]))


def _fcn(weight):
    return dict(type='FCNHead', in_channels=32, in_index=3, channels=8,
                num_convs=1, num_classes=NUM_CLASSES,
                loss_decode=dict(type='CrossEntropyLoss',
                                 loss_weight=weight))


def _cfg(tmp, max_iters, resume=False, load_from=None):
    model = dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=dict(
            type='MultiModalSegDataPreProcessor', modalities=LAYOUT,
            mean=dict(rgb=[128.] * 3, depth=[2.]),
            std=dict(rgb=[64.] * 3, depth=[1.]), size=(32, 32),
            train_sampler=dict(type='UniformCombinations')),
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=4),
        neck=dict(type='ProbabilisticEmbeddingNeck',
                  in_channels=[4, 8, 16, 32]),
        decode_head=_fcn(1.0),
        method_losses=dict(
            hard_combination=dict(
                type='CombinationRegularizer', modalities=LAYOUT,
                combinations=None, mining_score='embedding_variance',
                head=_fcn(0.5)),
            kl=dict(type='ProbabilisticEmbeddingKL')),
        test_cfg=dict(mode='whole'))
    root = osp.join(tmp, 'synthetic')
    return dict(
        default_scope='mmseg', model=model, work_dir=osp.join(tmp, 'work'),
        train_dataloader=_data(root, 'train'),
        test_dataloader=_data(root, 'test'),
        test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        test_cfg=dict(type='MultiCombinationTestLoop', save_json=True),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(type='OptimWrapper',
                           optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=3),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[
            dict(type='CombinationMiningHook', begin=0, end=3),
            dict(type='LossScaleWarmupHook', modules=['method_losses'],
                 begin=3)],
        resume=resume, load_from=load_from,
        randomness=dict(seed=0), log_level='WARNING')


def _selector(runner):
    return runner.model.method_losses.hard_combination.selector


def test_mined_hard_combination_saved_restored_used_reported(tmp_path):
    tmp = str(tmp_path)
    runner = Runner(**_cfg(tmp, max_iters=3))
    runner.train()
    mined = _selector(runner).selected_names
    assert len(mined) == 1 and mined[0] in ('rgb', 'depth')
    # saved: the buffers and the meta of the checkpoint after the window
    ckpt = torch.load(osp.join(tmp, 'work', 'iter_3.pth'))
    assert ckpt['meta']['selected_combinations'] == {KEY: mined}
    flags = ckpt['state_dict'][f'{KEY}.selected']
    assert flags.sum() == 1 and \
        _selector(runner).all_combinations[int(flags.float().argmax())] == \
        tuple(mined[0].split('+'))

    # restored on resume: nothing is mined again, the set is the saved one
    runner = Runner(**_cfg(tmp, max_iters=5, resume=True))
    seen = {}

    class _AtStart(Hook):
        priority = 'VERY_LOW'

        def before_train(self, runner):
            seen['names'] = _selector(runner).selected_names

    runner.register_hook(_AtStart())
    runner.train()
    assert seen['names'] == mined == _selector(runner).selected_names

    # used: after restoring, only the mined combination's samples reach the
    # regularizer
    model = runner.model.train()
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, False)
    inputs, samples = data['inputs'], data['data_samples']
    row = [n in mined[0].split('+') for n in ('rgb', 'depth')]
    others = [r for r in ([True, True], [True, False], [False, True])
              if r != row]
    for rows, counts in (([row, others[0]] * 2, True), (others * 2, False)):
        set_modality_masks(samples, torch.tensor(rows))
        loss = model.loss(inputs, samples)['aux.loss_ce']
        assert (float(loss) > 0) == counts, (rows, float(loss))

    # reported at evaluation, also for a model loaded for testing only
    tester = Runner(**_cfg(str(tmp_path / 'test'), max_iters=1,
                           load_from=osp.join(tmp, 'work', 'iter_5.pth')))
    tester.test()
    assert _selector(tester).selected_names == mined
    with open(tester.test_loop.last_json) as f:
        assert json.load(f)['method_state'] == {KEY: mined}
