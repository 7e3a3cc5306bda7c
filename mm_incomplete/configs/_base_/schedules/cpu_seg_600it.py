# A CPU-size schedule for the synthetic segmentation set: a few minutes on
# 2 cores. AdamW trains the small from-scratch models quickly and stably.
# The demo's schedule and the comparison schedule of the README's results
# (tools/analysis/compare_seeds.py --schedule this file): on the synthetic
# set of generator version 2 the models trained with missing modalities have
# learnt the depth and the RGB cue by its end (README, "Results").
max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=False,
        begin=50,
        end=max_iters)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='MultiCombinationValLoop', combinations='all')
test_cfg = dict(type='MultiCombinationTestLoop', combinations='all')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1,
        save_best='mean/mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
